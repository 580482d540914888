import { Marked, type Tokens } from 'marked';

// Briefings, hints and solutions are markdown written by scenario authors and templated with lab facts.
// Raw HTML in them is shown as text, never interpreted, and links/images only take http(s), mailto and
// relative URLs: the page stays free of injected markup whatever a scenario or a fact contains.

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const safeUrl = (href: string) => /^(https?:|mailto:|\/|#|\.{0,2}\/)/i.test(href.trim()) || !/^[a-z][a-z0-9+.-]*:/i.test(href.trim());

const md = new Marked({
  gfm: true,
  tokenizer: {
    // No bare-URL links (GFM's autolink literals): the URLs in briefings and check titles are the lab's
    // (http://catalog, http://10.96.0.10), which mean nothing to the learner's browser. Written links,
    // [text](url) or <url>, stay links.
    url() { return undefined; },
  },
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return esc(text);
    },
    link({ href, title, tokens }: Tokens.Link) {
      const inner = this.parser.parseInline(tokens);
      if (!safeUrl(href)) return inner;
      const external = /^https?:/i.test(href);
      return `<a href="${esc(href)}"${title ? ` title="${esc(title)}"` : ''}${external ? ' rel="noopener noreferrer" target="_blank"' : ''}>${inner}</a>`;
    },
    image({ href, title, text }: Tokens.Image) {
      if (!safeUrl(href)) return esc(text);
      return `<img src="${esc(href)}" alt="${esc(text)}"${title ? ` title="${esc(title)}"` : ''}>`;
    },
  },
});

export function renderMarkdown(src: string): string {
  return md.parse(src, { async: false }) as string;
}

export function renderInline(src: string): string {
  return md.parseInline(src, { async: false }) as string;
}

export const escapeHtml = esc;
