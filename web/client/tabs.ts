import { toast } from './dom.ts';
import { RelayTerminal, type TermStatus } from './terminal.ts';

// The terminal tabs of a lab: one tab per node and pod, each terminal created on first use and kept
// (hidden) while another is shown. A page may show several labs in turn (an exam's tasks): each
// lab keeps its own terminals, and showing a lab brings back its tabs and its shells.

export interface Target { target: string; kind: 'node' | 'pod'; node: string; ip: string }
export interface TabsLab { id: string; token: string; targets: Target[]; readOnly?: boolean }

export interface TerminalTabsOptions {
  tabs: HTMLElement;
  stage: HTMLElement;
  status: HTMLElement;
  /** A shell ended because its lab did; `reason` is the server's. */
  onLabEnded?: (reason: string) => void;
  onActivate?: (target: string) => void;
}

const STATUS_TEXT: Record<TermStatus, string> = {
  connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', ended: 'Shell ended', failed: 'Cannot connect',
};

export class TerminalTabs {
  private readonly byLab = new Map<string, Map<string, RelayTerminal>>();
  private lab: TabsLab | null = null;
  active = '';

  constructor(private readonly o: TerminalTabsOptions) {}

  /** The shown lab's terminals by target. */
  get terminals(): Map<string, RelayTerminal> {
    return this.lab ? this.byLab.get(this.lab.id)! : new Map();
  }

  /** Shows a lab's tabs and one of its terminals: `wanted` if it has it, else a client pod, else the first. */
  show(lab: TabsLab, wanted?: string) {
    this.lab = lab;
    if (!this.byLab.has(lab.id)) this.byLab.set(lab.id, new Map());
    this.buildTabs(lab.targets);
    const t = lab.targets;
    const first = t.find((x) => x.target === wanted) ?? t.find((x) => x.kind === 'pod' && /client/.test(x.target)) ?? t[0];
    if (first) this.activate(first.target);
    this.scrollToStart();
  }

  /** The strip from its start (the nodes first), unless that would hide the active tab. */
  private scrollToStart() {
    const strip = this.o.tabs;
    const on = strip.querySelector<HTMLElement>('[role=tab][aria-selected="true"]');
    if (!on) return;
    const right = on.getBoundingClientRect().right - strip.getBoundingClientRect().left + strip.scrollLeft;
    if (right <= strip.clientWidth) strip.scrollLeft = 0;
  }

  open(target: string): RelayTerminal {
    const lab = this.lab!;
    const mine = this.byLab.get(lab.id)!;
    let t = mine.get(target);
    if (!t) {
      const el = document.createElement('div');
      el.className = 'term';
      el.dataset.lab = lab.id;
      el.dataset.target = target;
      this.o.stage.append(el);
      t = new RelayTerminal(el, {
        lab: lab.id, target, token: lab.token, readOnly: lab.readOnly,
        onStatus: (s, detail) => {
          if (this.lab?.id !== lab.id) return;
          this.o.tabs.querySelector(`[data-target="${CSS.escape(target)}"]`)?.setAttribute('data-status', s);
          if (s === 'ended' && detail?.startsWith('the lab ended')) this.o.onLabEnded?.(detail.replace(/^the lab ended: /, ''));
          if (this.active === target) this.o.status.textContent = `${target}: ${STATUS_TEXT[s]}${detail ? ` (${detail})` : ''}`;
        },
      });
      mine.set(target, t);
    }
    return t;
  }

  activate(target: string): RelayTerminal {
    this.active = target;
    for (const b of this.o.tabs.querySelectorAll<HTMLElement>('[role=tab]')) {
      const on = b.dataset.target === target;
      b.setAttribute('aria-selected', String(on));
      if (on) b.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }
    const t = this.open(target);
    for (const el of this.o.stage.querySelectorAll<HTMLElement>('.term')) el.hidden = el.dataset.lab !== this.lab!.id || el.dataset.target !== target;
    t.refit();
    t.focus();
    this.o.status.textContent = `${target}: ${STATUS_TEXT[t.status]}`;
    this.o.onActivate?.(target);
    return t;
  }

  /** No lab shown (a task whose lab is not ready): no tabs, every terminal hidden, shells kept. */
  clear(message = '—') {
    this.lab = null;
    this.active = '';
    this.o.tabs.textContent = '';
    for (const el of this.o.stage.querySelectorAll<HTMLElement>('.term')) el.hidden = true;
    this.o.status.textContent = message;
  }

  /** New shells for the shown lab's terminals (after a reset). */
  reconnect() {
    for (const t of this.terminals.values()) t.connect();
  }

  private buildTabs(targets: Target[]) {
    const tabs = this.o.tabs;
    tabs.textContent = '';
    const group = (label: string, list: Target[]) => {
      if (!list.length) return;
      const g = document.createElement('span');
      g.className = 'tab-group';
      g.textContent = label;
      tabs.append(g);
      for (const t of list) {
        const b = document.createElement('button');
        b.type = 'button';
        b.setAttribute('role', 'tab');
        b.dataset.target = t.target;
        const term = this.terminals.get(t.target);
        if (term) b.dataset.status = term.status;
        b.title = `${t.target}${t.ip ? ` — ${t.ip}` : ''}${t.kind === 'pod' ? ` on ${t.node}` : ''}`;
        b.innerHTML = `<span class="tab-dot"></span>`;
        const slash = t.target.indexOf('/');
        if (t.kind === 'pod' && slash > 0 && !t.target.startsWith('default/')) {
          const ns = document.createElement('span');
          ns.className = 'ns';
          ns.textContent = t.target.slice(0, slash + 1);
          b.append(ns);
        }
        b.append(t.kind === 'pod' ? t.target.slice(slash + 1) : t.target);
        b.addEventListener('click', () => this.activate(t.target));
        tabs.append(b);
      }
    };
    group('Nodes', targets.filter((t) => t.kind === 'node'));
    // The learner's own namespaces first (their clients and apps), the cluster's (kube-*) after.
    const system = (t: Target) => (/^kube-/.test(t.target) ? 1 : 0);
    group('Pods', targets.filter((t) => t.kind === 'pod').sort((a, b) => system(a) - system(b) || a.target.localeCompare(b.target)));
  }

  /** Copy / paste buttons for people who do not know the shortcuts; each acts on the active tab. */
  clipboardButtons(foot: HTMLElement) {
    const button = (label: string, act: (t: RelayTerminal) => Promise<void>) => {
      const b = document.createElement('button');
      b.className = 'btn tiny ghost';
      b.type = 'button';
      b.textContent = label;
      b.addEventListener('click', async () => {
        const t = this.terminals.get(this.active);
        if (!t) return;
        await act(t);
        t.focus();
      });
      return b;
    };
    foot.append(
      button('Copy selection', async (t) => {
        const ok = await t.copySelection().catch(() => false);
        toast(ok ? 'Copied' : 'Select text in the terminal first', ok ? 'info' : 'error');
      }),
      button('Paste', async (t) => {
        try { t.paste(await navigator.clipboard.readText()); } catch { toast('The browser did not allow reading the clipboard: use Ctrl+Shift+V'); }
      }),
    );
  }
}
