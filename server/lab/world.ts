// The world outside a lab's cluster, as a kind cluster on a laptop has it: the host the nodes' network
// hangs off (the router: the "docker network"'s gateway, and the DNS server the nodes ask), a laptop
// on the host's side with a terminal of its own, and the internet beyond with a handful of sites.
// In a netns lab all of it lives inside the lab's sandbox; nothing here is ever sent anywhere else.
// The internet's addresses are in TEST-NET-3 (RFC 5737), which no real network routes.

export interface Site {
  /** The names the upstream DNS server answers with this site's address. */
  names: string[];
  ip: string;
  /** What `curl http://<name>/` gets back (nginx serves it with this content type); `/hostname`
   *  answers the first name, as the lab's own servers name themselves for the grader. */
  page: string;
  type: 'text/html' | 'application/json' | 'text/plain';
}

export const LAPTOP = { name: 'laptop', ip: '192.168.1.23', gateway: '192.168.1.1', prefixLen: 24 } as const;

/** The router's link to the internet, and the internet's side of it. */
export const INTERNET = { routerIP: '203.0.113.1', edgeIP: '203.0.113.2', prefixLen: 24 } as const;

/** Where LoadBalancer Services get their addresses: the top of the nodes' network, as MetalLB's kind guide pools them. */
export const LOAD_BALANCER_POOL = { first: '172.18.255.200', last: '172.18.255.250' } as const;

export const SITES: Site[] = [
  {
    names: ['example.com', 'www.example.com'], ip: '203.0.113.10', type: 'text/html',
    page: '<!doctype html>\n<html>\n<head><title>Example Domain</title></head>\n<body>\n<h1>Example Domain</h1>\n<p>This domain is for use in documentation examples without needing permission.</p>\n</body>\n</html>\n',
  },
  {
    names: ['google.com', 'www.google.com'], ip: '203.0.113.20', type: 'text/html',
    page: '<!doctype html>\n<html>\n<head><title>Google</title></head>\n<body>\n<p>Search the world\'s information.</p>\n</body>\n</html>\n',
  },
  {
    names: ['deb.debian.org'], ip: '203.0.113.30', type: 'text/plain',
    page: 'Debian package mirror: /debian/dists/stable/Release\n',
  },
  {
    names: ['api.github.com'], ip: '203.0.113.40', type: 'application/json',
    page: '{\n  "current_user_url": "https://api.github.com/user",\n  "rate_limit_url": "https://api.github.com/rate_limit"\n}\n',
  },
];
