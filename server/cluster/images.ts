/**
 * The image catalog of the netns lab: what program a container's image runs.
 *
 * No registry or container runtime exists in the lab. A container's image reference picks an entry
 * of this catalog, which says what the real image declares (ENTRYPOINT, CMD, ENV, STOPSIGNAL, the
 * directories it ships) and which host program stands for each executable of the image. The kubelet
 * runs the result inside the pod's network namespace, with its own mount namespace, hostname,
 * resolv.conf and hosts.
 *
 * Image references are parsed as the kubelet parses them (distribution/reference's grammar and
 * normalisation); failures carry the reason and the messages a kubelet with containerd reports.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKLOADS = fileURLToPath(new URL('../workloads/', import.meta.url));
export const AGNHOST_PY = join(WORKLOADS, 'agnhost.py');
/** The probe image's web backend, and where it sits in the image (the kind provider builds the same). */
export const WEB_PY = join(WORKLOADS, 'web.py');
export const WEB_PY_IN_IMAGE = '/opt/netdojo/web.py';
const NGINX_FILES = join(WORKLOADS, 'nginx');
const KUBE_PROXY_SH = join(WORKLOADS, 'kube-proxy.sh');
const INGRESS_CONTROLLER_PY = join(WORKLOADS, 'nginx-ingress-controller.py');
const INGRESS_NGINX_FILES = join(WORKLOADS, 'ingress-nginx');

/**
 * The environment variable by which the kubelet names a container's private, writable directory
 * (programs that need state of their own, like nginx's pid and temp files, keep it there).
 */
export const POD_DIR_ENV = 'NETDOJO_POD_DIR';

/** A directory of the image's own file system: the kubelet mounts a private, writable copy of
 *  `source` at `path`, unless a volume is mounted there (a volume replaces it, as in Kubernetes). */
export interface ImageDir {
  path: string;
  source: string;
  /** The entries of `source` the image ships, when not all of them. */
  only?: string[];
}

export interface ImageProgram {
  /** The image as the Pod spec names it. */
  image: string;
  /** The normalised reference, as containerd names it: docker.io/library/busybox:latest. */
  ref: string;
  /** The image's ENTRYPOINT and CMD, as the real image has them. */
  entrypoint: string[];
  cmd: string[];
  /** The image's ENV; the container's env overrides it. */
  env: Record<string, string>;
  /** The image's WORKDIR (none of the catalog's images sets one: the process starts in /). */
  workingDir?: string;
  /** The image's STOPSIGNAL (containerd stops the container with it); SIGTERM when absent. */
  stopSignal?: string;
  /**
   * Executables of the image that the host runs differently: an argv[0] (an absolute path, or a
   * bare name that also matches /bin/<name>, /usr/bin/<name>, ...) → the host argv that stands for
   * it. An empty host argv is an entrypoint that execs its arguments (after a `--`, which
   * dumb-init, tini and `exec` in a shell take as the end of their own options). Anything else runs
   * as the host's own program of that name.
   */
  binaries: Record<string, string[]>;
  dirs: ImageDir[];
  /** What a learner should know about how this image runs here. */
  notes: string[];
}

export type ImageResolution =
  | { ok: true; program: ImageProgram }
  | {
      ok: false;
      reason: 'ErrImagePull' | 'InvalidImageName';
      /** The kubelet's event message (Failed to pull image "…": …). */
      message: string;
      /** The container status' waiting message. */
      statusMessage: string;
    };

// ---- references --------------------------------------------------------------------------------

// distribution/reference's grammar.
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const REFERENCE = new RegExp(
  `^(${NAME})(?::([\\w][\\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`,
);
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

interface Reference {
  /** domain/path, e.g. docker.io/library/busybox */
  name: string;
  tag?: string;
  digest?: string;
}

/** Docker Hub's familiar names: `busybox` is docker.io/library/busybox; a first component with a
 *  dot or a port, or `localhost`, is a registry. */
function splitDomain(image: string): [string, string] {
  const slash = image.indexOf('/');
  if (slash < 0) return ['docker.io', `library/${image}`];
  const first = image.slice(0, slash);
  const rest = image.slice(slash + 1);
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    const domain = first === 'index.docker.io' ? 'docker.io' : first;
    return [domain, domain === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest];
  }
  return ['docker.io', image];
}

/** ParseNormalizedNamed: the reference, or the error text distribution/reference gives. */
function parseReference(image: string): Reference | { error: string } {
  if (/^[a-f0-9]{64}$/.test(image)) {
    return { error: `invalid repository name (${image}), cannot specify 64-byte hexadecimal strings` };
  }
  const [domain, remainder] = splitDomain(image);
  const remote = remainder.split(':')[0];
  if (remote.toLowerCase() !== remote) {
    return { error: `invalid reference format: repository name (${remote}) must be lowercase` };
  }
  const full = `${domain}/${remainder}`;
  const m = REFERENCE.exec(full);
  if (!m) {
    const lower = full.toLowerCase();
    return { error: lower !== full && REFERENCE.test(lower) ? 'repository name must be lowercase' : 'invalid reference format' };
  }
  const [, name, tag, digest] = m;
  if (name.length - domain.length - 1 > 255) return { error: 'repository name must not be more than 255 characters' };
  if (digest) {
    const [algorithm, hex] = digest.split(':');
    const length = DIGEST_HEX_LENGTH[algorithm];
    if (length === undefined) return { error: 'unsupported digest algorithm' };
    if (hex.length !== length) return { error: 'invalid checksum digest length' };
    if (!/^[a-f0-9]+$/.test(hex)) return { error: 'invalid checksum digest format' };
  }
  return { name, tag, digest };
}

/** ParseDockerRef's string: a digest wins over a tag; no tag means :latest. */
function refString(r: Reference): string {
  return r.digest ? `${r.name}@${r.digest}` : `${r.name}:${r.tag ?? 'latest'}`;
}

// ---- the host ----------------------------------------------------------------------------------

interface Host {
  /** The absolute path of an executable on the PATH the lab runs with. */
  which(program: string): string | undefined;
}

function hostWithPath(path: string): Host {
  return {
    which(program) {
      for (const dir of path.split(delimiter).filter(Boolean)) {
        const file = join(dir, program);
        try {
          accessSync(file, constants.X_OK);
          if (statSync(file).isFile()) return file;
        } catch {
          // not in this directory
        }
      }
      return undefined;
    },
  };
}

const appletsByBusybox = new Map<string, string[]>();

function busyboxApplets(busybox: string): string[] {
  let applets = appletsByBusybox.get(busybox);
  if (!applets) {
    applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    appletsByBusybox.set(busybox, applets);
  }
  return applets;
}

// ---- the catalog -------------------------------------------------------------------------------

/** What a catalog entry gives for a host; `needs` lists the host programs it cannot run without
 *  (program → the Debian package that has it). */
interface Recipe {
  entrypoint: string[];
  cmd: string[];
  env?: Record<string, string>;
  stopSignal?: string;
  needs?: Record<string, string | undefined>;
  binaries?: (found: (program: string) => string) => Record<string, string[]>;
  dirs?: ImageDir[];
  notes?: string[];
}

interface Entry {
  /** Normalised repository names (any tag or digest). */
  names: string[];
  recipe(host: Host): Recipe;
}

/** The PATH of nearly every image (Docker's default). */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * For images whose real work is done by netdojo's controllers (pause, kindnetd, kube-proxy): wait
 * until stopped, whatever the arguments (a shell that replaces itself with `sleep`: the lightest
 * waiter there is, one small process per such pod, and a lab has four). Stopped with SIGTERM it
 * ends by the signal where the pause binary exits 0, which only shows in a terminated status while
 * the pod is being deleted.
 */
const sleepForever = (sleep: string) => ['/bin/sh', '-c', `exec ${sleep} infinity`, 'sleep'];

/** Busybox-based images (busybox, alpine): the host's busybox applets if installed, else the
 *  host's own /bin/sh and commands. */
function busyboxUserland(host: Host): Pick<Recipe, 'binaries' | 'notes'> {
  const busybox = host.which('busybox');
  if (!busybox) {
    return { notes: ["busybox is not installed on this host: sh is the host's /bin/sh, every other command the host's own"] };
  }
  return {
    binaries: () => Object.fromEntries(busyboxApplets(busybox).map((applet) => [applet, [busybox, applet]])),
    notes: [`commands are applets of the host's busybox (${busybox})`],
  };
}

/** netshoot's tools that learners reach for; the host may lack some. */
const NETSHOOT_TOOLS = ['curl', 'dig', 'nslookup', 'ip', 'ss', 'ping', 'nc', 'tcpdump', 'traceroute', 'mtr', 'iperf3', 'nmap', 'iptables'];

/** curlimages/curl's /entrypoint.sh: arguments that are an option, or not a command, go to curl. */
const CURL_ENTRYPOINT = `if [ "\${1#-}" != "$1" ] || [ -z "$(command -v "$1")" ]; then set -- curl "$@"; fi; exec "$@"`;

/** The image's `nginx`: the host's nginx with the image's configuration (see nginx/nginx.sh). */
const nginxWrapper = (nginx: string) => ['/bin/sh', join(NGINX_FILES, 'nginx.sh'), nginx];

const CATALOG: Entry[] = [
  {
    names: ['registry.k8s.io/e2e-test-images/agnhost', 'k8s.gcr.io/e2e-test-images/agnhost', 'gcr.io/kubernetes-e2e-test-images/agnhost'],
    recipe: () => ({
      entrypoint: ['/agnhost'],
      cmd: ['pause'],
      env: { PATH: IMAGE_PATH },
      needs: { python3: 'python3' },
      binaries: (found) => {
        const agnhost = [found('python3'), AGNHOST_PY];
        return { '/agnhost': agnhost, agnhost, '/agnhost-2': agnhost };
      },
      notes: [
        "agnhost is netdojo's server/workloads/agnhost.py: netexec, serve-hostname, connect, porter, liveness, pause (no SCTP)",
        "the image's other tools (curl, dig, nc, ip, ...) are the host's",
      ],
    }),
  },
  {
    // netdojo's own probe image (the kind provider builds it from the host's tools): the grader's
    // clients and the `web` backends, which run /opt/netdojo/web.py.
    names: ['docker.io/netdojo/probe'],
    recipe: () => ({
      entrypoint: [],
      cmd: ['/usr/bin/sleep', 'infinity'],
      env: { PATH: IMAGE_PATH },
      needs: { python3: 'python3' },
      // As the kind provider's build of it: web.py alone (it imports nothing of its neighbours).
      dirs: [{ path: dirname(WEB_PY_IN_IMAGE), source: WORKLOADS, only: [basename(WEB_PY)] }],
      notes: ["the image's tools are the host's; /opt/netdojo holds netdojo's web.py"],
    }),
  },
  { names: ['docker.io/library/busybox'], recipe: (host) => ({ entrypoint: [], cmd: ['sh'], env: { PATH: IMAGE_PATH }, ...busyboxUserland(host) }) },
  { names: ['docker.io/library/alpine'], recipe: (host) => ({ entrypoint: [], cmd: ['/bin/sh'], env: { PATH: IMAGE_PATH }, ...busyboxUserland(host) }) },
  {
    names: ['docker.io/nicolaka/netshoot'],
    recipe: (host): Recipe => {
      const zsh = host.which('zsh');
      const missing = NETSHOOT_TOOLS.filter((tool) => !host.which(tool));
      return {
        entrypoint: [],
        cmd: ['zsh'],
        env: { PATH: IMAGE_PATH },
        needs: zsh ? {} : { bash: 'bash' },
        binaries: (found): Record<string, string[]> => (zsh ? {} : { zsh: [found('bash')] }),
        notes: [
          zsh ? "zsh is the host's" : 'zsh is not installed on this host: zsh runs bash',
          "the tools are the host's" + (missing.length ? `; not on this host: ${missing.join(', ')}` : ''),
        ],
      };
    },
  },
  {
    names: ['docker.io/curlimages/curl'],
    recipe: () => ({
      entrypoint: ['/entrypoint.sh'],
      cmd: ['curl'],
      env: { PATH: IMAGE_PATH },
      needs: { curl: 'curl' },
      binaries: () => ({ '/entrypoint.sh': ['/bin/sh', '-c', CURL_ENTRYPOINT, '/entrypoint.sh'] }),
      notes: ['the image runs as curl_user (uid 100); here it runs as root'],
    }),
  },
  { names: ['docker.io/library/debian'], recipe: () => ({ entrypoint: [], cmd: ['bash'], env: { PATH: IMAGE_PATH }, needs: { bash: 'bash' } }) },
  { names: ['docker.io/library/ubuntu'], recipe: () => ({ entrypoint: [], cmd: ['/bin/bash'], env: { PATH: IMAGE_PATH }, needs: { bash: 'bash' } }) },
  {
    names: ['docker.io/library/python'],
    recipe: () => ({
      entrypoint: [],
      cmd: ['python3'],
      env: { PATH: `/usr/local/bin:${IMAGE_PATH}`, LANG: 'C.UTF-8' },
      needs: { python3: 'python3' },
      binaries: (found) => ({ python3: [found('python3')], python: [found('python3')] }),
      notes: ["python is the host's python3, whatever the tag"],
    }),
  },
  {
    names: ['docker.io/library/nginx'],
    recipe: () => ({
      entrypoint: ['/docker-entrypoint.sh'],
      cmd: ['nginx', '-g', 'daemon off;'],
      env: { PATH: IMAGE_PATH },
      stopSignal: 'SIGQUIT',
      needs: { nginx: 'nginx-light' },
      binaries: (found) => ({ '/docker-entrypoint.sh': [], nginx: nginxWrapper(found('nginx')), 'nginx-debug': nginxWrapper(found('nginx')) }),
      dirs: [
        { path: '/etc/nginx/conf.d', source: join(NGINX_FILES, 'conf.d') },
        { path: '/usr/share/nginx/html', source: join(NGINX_FILES, 'html') },
      ],
      notes: ["nginx is the host's, with the image's configuration (one worker; IPv4 only on port 80)"],
    }),
  },
  {
    // The controller runs in its pod as the real one does: it watches the API with the pod's
    // service account, renders nginx.conf and runs the host's nginx (see nginx-ingress-controller.py).
    names: ['registry.k8s.io/ingress-nginx/controller'],
    recipe: () => ({
      entrypoint: ['/usr/bin/dumb-init', '--'],
      cmd: ['/nginx-ingress-controller'],
      env: { PATH: IMAGE_PATH },
      needs: { python3: 'python3', nginx: 'nginx-light', openssl: 'openssl' },
      binaries: (found) => ({ '/usr/bin/dumb-init': [], '/nginx-ingress-controller': [found('python3'), INGRESS_CONTROLLER_PY] }),
      // The image keeps nginx's pid and temporary files in /tmp/nginx and certificates in
      // /etc/ingress-controller/ssl; here they are in /var/lib/nginx and /etc/nginx/ssl: directories
      // the host's nginx package has, which a container can have a copy of its own of.
      dirs: [{ path: '/etc/nginx', source: join(INGRESS_NGINX_FILES, 'etc-nginx') }, { path: '/var/lib/nginx', source: join(INGRESS_NGINX_FILES, 'var-lib-nginx') }],
      notes: [
        "/nginx-ingress-controller is netdojo's server/workloads/nginx-ingress-controller.py, running the host's nginx; of the annotations only rewrite-target, use-regex, ssl-redirect and force-ssl-redirect; no admission webhook or TCP/UDP services",
      ],
    }),
  },
  {
    names: ['registry.k8s.io/coredns/coredns', 'k8s.gcr.io/coredns/coredns', 'docker.io/coredns/coredns'],
    recipe: () => ({
      entrypoint: ['/coredns'],
      cmd: [],
      needs: { coredns: undefined },
      binaries: (found) => ({ '/coredns': [found('coredns')] }),
      notes: ['/coredns is the coredns program on the lab PATH'],
    }),
  },
  {
    names: ['registry.k8s.io/pause', 'k8s.gcr.io/pause'],
    recipe: () => ({
      entrypoint: ['/pause'],
      cmd: [],
      needs: { sleep: 'coreutils' },
      binaries: (found) => ({ '/pause': sleepForever(found('sleep')) }),
    }),
  },
  {
    names: ['docker.io/kindest/kindnetd'],
    recipe: () => ({
      entrypoint: [],
      cmd: ['/bin/kindnetd'],
      env: { PATH: IMAGE_PATH },
      needs: { sleep: 'coreutils' },
      binaries: (found) => ({ '/bin/kindnetd': sleepForever(found('sleep')), kindnetd: sleepForever(found('sleep')) }),
      notes: ["kindnetd's routes, CNI config, masquerading and NetworkPolicy are netdojo's controllers' work: the container only waits"],
    }),
  },
  {
    names: ['registry.k8s.io/kube-proxy', 'k8s.gcr.io/kube-proxy'],
    // The image declares neither ENTRYPOINT nor CMD: kube-proxy's DaemonSet gives the command.
    recipe: () => ({
      entrypoint: [],
      cmd: [],
      env: { PATH: IMAGE_PATH },
      needs: { sleep: 'coreutils', sed: 'sed', date: 'coreutils' },
      binaries: () => ({ '/usr/local/bin/kube-proxy': ['/bin/sh', KUBE_PROXY_SH], 'kube-proxy': ['/bin/sh', KUBE_PROXY_SH] }),
      notes: ["kube-proxy's iptables rules are netdojo's controllers' work: the container reads its configuration, logs and waits (or fails as kube-proxy fails: an unknown mode, ipvs without the kernel's ip_vs)"],
    }),
  },
];

const ENTRY_BY_NAME = new Map(CATALOG.flatMap((entry) => entry.names.map((name) => [name, entry] as const)));

// ---- resolution --------------------------------------------------------------------------------

function pullFailure(image: string, ref: string, code: string, detail: string): ImageResolution {
  // containerd's CRI error for a reference it cannot resolve, as the kubelet reports it: the
  // event prefixes "Failed to pull image", the container status carries the error alone.
  const statusMessage = `rpc error: code = ${code} desc = failed to pull and unpack image "${ref}": ${detail}`;
  return { ok: false, reason: 'ErrImagePull', message: `Failed to pull image "${image}": ${statusMessage}`, statusMessage };
}

/**
 * The program behind an image reference, or the kubelet's failure. `path` is the PATH the lab's
 * programs are looked up on (default: this process's).
 */
export function resolveImage(image: string, opts: { path?: string } = {}): ImageResolution {
  const parsed = parseReference(image);
  if ('error' in parsed) {
    const message = `Failed to apply default image tag "${image}": couldn't parse image name "${image}": ${parsed.error}`;
    return { ok: false, reason: 'InvalidImageName', message, statusMessage: message };
  }
  const ref = refString(parsed);
  const entry = ENTRY_BY_NAME.get(parsed.name);
  if (!entry) return pullFailure(image, ref, 'NotFound', `failed to resolve reference "${ref}": ${ref}: not found`);

  const host = hostWithPath(opts.path ?? process.env.PATH ?? '');
  const recipe = entry.recipe(host);
  const programs = new Map<string, string>();
  for (const [program, pkg] of Object.entries(recipe.needs ?? {})) {
    const file = host.which(program);
    if (!file) {
      const hint = pkg ? ` (Debian package ${pkg})` : '';
      return pullFailure(image, ref, 'Unknown', `netdojo runs this image with the host's ${program}, which is not on PATH${hint}`);
    }
    programs.set(program, file);
  }
  const found = (program: string) => programs.get(program) ?? program;
  return {
    ok: true,
    program: {
      image,
      ref,
      entrypoint: recipe.entrypoint,
      cmd: recipe.cmd,
      env: recipe.env ?? {},
      ...(recipe.stopSignal ? { stopSignal: recipe.stopSignal } : {}),
      binaries: recipe.binaries?.(found) ?? {},
      dirs: recipe.dirs ?? [],
      notes: recipe.notes ?? [],
    },
  };
}

// ---- argv --------------------------------------------------------------------------------------

/**
 * The kubelet's $(VAR) expansion of command and args: $(NAME) becomes the variable's value;
 * $$ is a literal $ (so $$(NAME) stays "$(NAME)"); an unknown name, an unterminated $( and any
 * other $ stay as written.
 */
export function expandVars(s: string, env: Record<string, string>): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s[i] !== '$' || i + 1 === s.length) {
      out += s[i++];
      continue;
    }
    const next = s[i + 1];
    const close = next === '(' ? s.indexOf(')', i + 2) : -1;
    if (next === '$') {
      out += '$';
    } else if (close >= 0) {
      const name = s.slice(i + 2, close);
      out += Object.hasOwn(env, name) ? env[name] : `$(${name})`;
      i = close + 1;
      continue;
    } else {
      out += `$${next}`;
    }
    i += 2;
  }
  return out;
}

const BIN_DIRS = new Set(['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']);

/** What the host runs for an argv as the image would run it (a container's command, or an exec). */
export function hostArgv(program: ImageProgram, argv: string[]): string[] {
  const [first, ...rest] = argv;
  if (first === undefined) return [];
  const dir = first.slice(0, first.lastIndexOf('/'));
  const stand = Object.hasOwn(program.binaries, first)
    ? program.binaries[first]
    : BIN_DIRS.has(dir) && Object.hasOwn(program.binaries, basename(first))
      ? program.binaries[basename(first)]
      : undefined;
  if (!stand) return argv;
  return stand.length === 0 ? hostArgv(program, rest[0] === '--' ? rest.slice(1) : rest) : [...stand, ...rest];
}

/**
 * The host argv a container runs. Kubernetes' rules: `command` replaces the image's ENTRYPOINT and
 * `args` its CMD; `command` alone drops the CMD; with neither, ENTRYPOINT then CMD. $(VAR) in
 * command and args expands from the container's env (not the image's). An empty result is
 * containerd's "no command specified" (the kubelet reports CreateContainerError).
 */
export function containerArgv(
  program: ImageProgram,
  container: { command?: string[]; args?: string[] },
  env: Record<string, string>,
): string[] {
  const command = container.command?.length ? container.command.map((s) => expandVars(s, env)) : undefined;
  const args = container.args?.length ? container.args.map((s) => expandVars(s, env)) : undefined;
  const argv = command ? [...command, ...(args ?? [])] : [...program.entrypoint, ...(args ?? program.cmd)];
  return hostArgv(program, argv);
}
