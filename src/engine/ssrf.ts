/**
 * Outbound address policy of http steps (SPEC §5): private, loopback, link-local, metadata and
 * other non-public addresses are refused unless the deployment allows a `host:port` explicitly
 * (`ALLOWED_PRIVATE_HOSTS`); every redirect hop is checked again by the caller.
 *
 * Two layers:
 * - `classifyHost` is a pure classifier of a host as written. It parses IPv4 the way URL parsers
 *   and `inet_aton` do (decimal `2130706433`, hex `0x7f000001` / `0x7f.0.0.1`, octal `0177.0.0.1`,
 *   short forms `127.1`), IPv6 with its embedded-IPv4 forms (mapped `::ffff:a.b.c.d`, translated,
 *   IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), and well-known local names.
 *   IPv6 outside global unicast (2000::/3) is refused as a whole, so new special ranges fail closed.
 * - `checkOutboundUrl` parses a URL with the WHATWG parser (the one `fetch` uses), refuses what is
 *   not plain http(s) or carries credentials, and classifies the parsed hostname. The parser already
 *   normalises IPv4 spellings (`http://0x7f000001/` has hostname `127.0.0.1`), so the classifier
 *   sees what fetch will connect to. An IPv4 literal written in anything but dotted decimal is
 *   refused outright, even when its normalised form is allowed: such spellings exist to slip past
 *   filters and allow lists, and no author needs them.
 *
 * Known limit: a public DNS name that resolves to a private address (`127.0.0.1.nip.io`, DNS
 * rebinding) is not caught: Workers has no DNS API, so only the name can be judged. On Cloudflare's
 * network a Worker's fetch leaves through the edge and cannot reach the deployment's own private
 * networks, which bounds that risk; in `wrangler dev` it can reach the developer's machine.
 */
import { NonRetriableError } from "./errors";

export type HostClassification = { kind: "public" } | { kind: "blocked"; reason: string };

const PUBLIC: HostClassification = { kind: "public" };
const blocked = (reason: string): HostClassification => ({ kind: "blocked", reason });

// ---------------------------------------------------------------------------------------------
// IPv4

/** [network, prefix length, reason] — non-public IPv4 ranges (IANA special-purpose registry). */
const IPV4_BLOCKED: readonly [string, number, string][] = [
  ["0.0.0.0", 8, "'this network' address (0.0.0.0/8)"],
  ["10.0.0.0", 8, "private address (10.0.0.0/8)"],
  ["100.64.0.0", 10, "carrier-grade NAT address (100.64.0.0/10)"],
  ["127.0.0.0", 8, "loopback address (127.0.0.0/8)"],
  ["169.254.0.0", 16, "link-local address (169.254.0.0/16, cloud metadata)"],
  ["172.16.0.0", 12, "private address (172.16.0.0/12)"],
  ["192.0.0.0", 24, "IETF protocol assignment (192.0.0.0/24)"],
  ["192.0.2.0", 24, "documentation address (192.0.2.0/24)"],
  ["192.88.99.0", 24, "6to4 relay anycast (192.88.99.0/24)"],
  ["192.168.0.0", 16, "private address (192.168.0.0/16)"],
  ["198.18.0.0", 15, "benchmarking address (198.18.0.0/15)"],
  ["198.51.100.0", 24, "documentation address (198.51.100.0/24)"],
  ["203.0.113.0", 24, "documentation address (203.0.113.0/24)"],
  ["224.0.0.0", 4, "multicast address (224.0.0.0/4)"],
  ["240.0.0.0", 4, "reserved address (240.0.0.0/4, broadcast)"],
];

const IPV4_RANGES = IPV4_BLOCKED.map(([network, prefix, reason]) => {
  const base = parseIpv4(network);
  if (base === null) throw new Error(`bad range ${network}`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (base & mask) >>> 0, mask, reason };
});

/**
 * Parses an IPv4 address the way the WHATWG URL parser does: 1-4 dot-separated parts, each
 * decimal, hex (`0x`) or octal (leading `0`); the last part fills the remaining bytes. A single
 * trailing dot is allowed. Returns the address as an unsigned 32-bit number, or null.
 */
export function parseIpv4(input: string): number | null {
  const parts = input.split(".");
  if (parts[parts.length - 1] === "" && parts.length > 1) parts.pop();
  if (parts.length === 0 || parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseIpv4Number(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop() as number;
  if (numbers.some((n) => n > 255)) return null;
  if (last >= 256 ** (4 - numbers.length)) return null;
  let address = last;
  numbers.forEach((n, i) => {
    address += n * 256 ** (3 - i);
  });
  return address >>> 0;
}

function parseIpv4Number(part: string): number | null {
  if (part === "") return null;
  let digits = part;
  let radix = 10;
  if (/^0[xX]/.test(part)) {
    digits = part.slice(2);
    radix = 16;
    if (digits === "") return 0; // "0x" is 0 for URL parsers
  } else if (part.length > 1 && part.startsWith("0")) {
    digits = part.slice(1);
    radix = 8;
  }
  const valid = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return null;
  // Longer than any 32-bit value in that radix: out of range (and keeps parseInt exact).
  if (digits.replace(/^0+/, "").length > (radix === 16 ? 8 : radix === 8 ? 11 : 10)) return null;
  return Number.parseInt(digits, radix);
}

/** Whether a name would be parsed as an IPv4 address by a URL parser (its last label is numeric). */
function looksLikeIpv4(host: string): boolean {
  const labels = host.split(".");
  if (labels[labels.length - 1] === "" && labels.length > 1) labels.pop();
  const last = labels[labels.length - 1] ?? "";
  return /^[0-9]+$/.test(last) || /^0[xX][0-9a-fA-F]*$/.test(last);
}

function classifyIpv4(address: number): HostClassification {
  if (address === 0xffffffff) return blocked("broadcast address (255.255.255.255)");
  for (const range of IPV4_RANGES) {
    if (((address & range.mask) >>> 0) === range.base) return blocked(range.reason);
  }
  return PUBLIC;
}

export function formatIpv4(address: number): string {
  return [address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255].join(".");
}

// ---------------------------------------------------------------------------------------------
// IPv6

/** Parses an IPv6 address (no brackets, no zone) into 8 16-bit groups, or null. */
export function parseIpv6(input: string): number[] | null {
  let text = input;
  // An embedded IPv4 in dotted form as the last 32 bits (::ffff:127.0.0.1): rewrite it as two groups.
  const lastColon = text.lastIndexOf(":");
  if (lastColon !== -1 && text.slice(lastColon + 1).includes(".")) {
    const v4 = text.slice(lastColon + 1);
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(v4)) return null;
    const octets = v4.split(".").map(Number);
    if (octets.some((o) => o > 255)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === "") return [];
    const groups = s.split(":");
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0] ?? "");
  if (head === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const rest = parseGroups(halves[1] ?? "");
  if (rest === null) return null;
  const known = head.length + rest.length;
  if (known > 7) return null;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest];
}

function embeddedIpv4(groups: readonly number[], at: number): number {
  return (((groups[at] ?? 0) << 16) | (groups[at + 1] ?? 0)) >>> 0;
}

function classifyIpv6(groups: readonly number[]): HostClassification {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups;
  const firstFiveZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstFiveZero && g5 === 0 && g6 === 0 && g7 === 0) return blocked("unspecified address (::)");
  if (firstFiveZero && g5 === 0 && g6 === 0 && g7 === 1) return blocked("loopback address (::1)");
  const viaV4 = (what: string, address: number): HostClassification => {
    const inner = classifyIpv4(address);
    return inner.kind === "public" ? PUBLIC : blocked(`${what} of ${formatIpv4(address)}: ${inner.reason}`);
  };
  // ::ffff:0:0/96 IPv4-mapped
  if (firstFiveZero && g5 === 0xffff) return viaV4("IPv4-mapped IPv6 address", embeddedIpv4(groups, 6));
  // ::ffff:0:0:0/96 IPv4-translated (SIIT)
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0xffff && g5 === 0) {
    return viaV4("IPv4-translated IPv6 address", embeddedIpv4(groups, 6));
  }
  // ::/96 IPv4-compatible (deprecated): nothing routes it, refuse whatever it embeds.
  if (firstFiveZero && g5 === 0) return blocked(`IPv4-compatible IPv6 address (deprecated) of ${formatIpv4(embeddedIpv4(groups, 6))}`);
  // 64:ff9b::/96 NAT64 well-known prefix: reaches the embedded IPv4 address.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return viaV4("NAT64 address", embeddedIpv4(groups, 6));
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return blocked("local-use NAT64 address (64:ff9b:1::/48)");
  // 2002::/16 6to4: the IPv4 address is in bits 16-47.
  if (g0 === 0x2002) return viaV4("6to4 address", embeddedIpv4(groups, 1));
  if (g0 === 0x2001 && g1 === 0) return blocked("Teredo address (2001::/32)");
  if (g0 === 0x2001 && g1 === 0x0db8) return blocked("documentation address (2001:db8::/32)");
  if (g0 === 0x2001 && g1 === 0x0002 && g2 === 0) return blocked("benchmarking address (2001:2::/48)");
  if ((g0 & 0xfe00) === 0xfc00) return blocked("unique-local address (fc00::/7)");
  if ((g0 & 0xffc0) === 0xfe80) return blocked("link-local address (fe80::/10)");
  if ((g0 & 0xffc0) === 0xfec0) return blocked("site-local address (fec0::/10, deprecated)");
  if ((g0 & 0xff00) === 0xff00) return blocked("multicast address (ff00::/8)");
  if ((g0 & 0xe000) !== 0x2000) return blocked("not a global unicast address (outside 2000::/3)");
  return PUBLIC;
}

// ---------------------------------------------------------------------------------------------
// Names

const BLOCKED_NAMES = new Set([
  "localhost",
  "localhost.localdomain",
  "ip6-localhost",
  "ip6-loopback",
  "metadata",
  "metadata.google.internal",
  "instance-data", // AWS
]);

/** Suffixes of names that only ever resolve inside a machine or a private network. */
const BLOCKED_SUFFIXES: readonly [string, string][] = [
  [".localhost", "loopback name (*.localhost)"],
  [".internal", "internal name (*.internal, cloud metadata and VPC names)"],
  [".local", "multicast DNS name (*.local)"],
  [".localdomain", "local name (*.localdomain)"],
  [".home.arpa", "home network name (*.home.arpa)"],
  [".in-addr.arpa", "reverse DNS name"],
  [".ip6.arpa", "reverse DNS name"],
];

/**
 * Classifies a host as written in a URL or typed by a person: an IPv4 address in any of the
 * spellings URL parsers accept, an IPv6 address with or without brackets, or a DNS name
 * (case-insensitive, trailing dots ignored).
 */
export function classifyHost(host: string): HostClassification {
  // Fullwidth digits and ideographic dots are mapped by URL parsers (IDNA): do the same.
  let h = host.normalize("NFKC").replace(/[\u3002\uff0e\uff61]/g, ".").trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h === "") return blocked("empty host");

  if (h.includes(":")) {
    if (h.includes("%")) return blocked("IPv6 address with a zone identifier");
    const groups = parseIpv6(h);
    if (groups === null) return blocked("invalid IPv6 address");
    return classifyIpv6(groups);
  }

  while (h.endsWith(".")) h = h.slice(0, -1);
  if (h === "") return blocked("empty host");

  if (looksLikeIpv4(h)) {
    const address = parseIpv4(h);
    if (address === null) return blocked("invalid IPv4 address");
    return classifyIpv4(address);
  }

  if (BLOCKED_NAMES.has(h)) return blocked(`local name '${h}'`);
  for (const [suffix, reason] of BLOCKED_SUFFIXES) {
    if (h.endsWith(suffix)) return blocked(reason);
  }
  // A single label (`intranet`, `router`) is resolved through local search domains, never the
  // public DNS.
  if (!h.includes(".")) return blocked("single-label name (resolved on the local network)");
  return PUBLIC;
}

// ---------------------------------------------------------------------------------------------
// URLs

const DEFAULT_PORTS: Readonly<Record<string, string>> = { "http:": "80", "https:": "443" };

/**
 * Parses and checks the URL of an outbound request (and of each redirect hop). Returns the parsed
 * URL; throws `INVALID_URL` (not http(s), unparsable, credentials in it) or `SSRF_BLOCKED`
 * (`details.host`, `details.reason`).
 *
 * `allowedPrivateHosts` are `host:port` pairs (e.g. `127.0.0.1:9999`, `[::1]:8080`,
 * `localhost:3000`) that may be reached although they are not public. They are compared with the
 * URL's host normalised (lowercase, IPv6 bracketed and compressed, port defaulted from the scheme).
 * An entry without a port matches nothing.
 */
export function checkOutboundUrl(url: string, allowedPrivateHosts: readonly string[]): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new NonRetriableError("INVALID_URL", `'${truncate(url)}' is not an absolute URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new NonRetriableError("INVALID_URL", `only http and https URLs can be fetched, not '${parsed.protocol}'`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new NonRetriableError(
      "INVALID_URL",
      "URLs with credentials (user:password@) are refused: send credentials in a header (e.g. authorization with a secret)",
    );
  }
  const port = parsed.port === "" ? (DEFAULT_PORTS[parsed.protocol] ?? "") : parsed.port;
  const hostPort = `${parsed.hostname}:${port}`;

  const raw = rawHost(url);
  // The URL parser serialises every IPv4 host it recognised as dotted decimal.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(parsed.hostname) && raw !== parsed.hostname) {
    throw ssrfError(hostPort, `IPv4 address written as '${raw ?? "?"}' instead of dotted decimal (${parsed.hostname})`);
  }

  const verdict = classifyHost(parsed.hostname);
  if (verdict.kind === "public") return parsed;
  if (normaliseAllowList(allowedPrivateHosts).has(hostPort)) return parsed;
  throw ssrfError(hostPort, verdict.reason);
}

function ssrfError(hostPort: string, reason: string): NonRetriableError {
  return new NonRetriableError("SSRF_BLOCKED", `outbound request to ${hostPort} refused: ${reason}`, { host: hostPort, reason });
}

const allowListCache = new WeakMap<readonly string[], Set<string>>();

/** `host:port` entries normalised the way `checkOutboundUrl` builds its key. */
export function normaliseAllowList(entries: readonly string[]): Set<string> {
  const cached = allowListCache.get(entries);
  if (cached) return cached;
  const out = new Set<string>();
  for (const entry of entries) {
    const text = entry.trim();
    if (text === "") continue;
    try {
      const parsed = new URL(`http://${text}`);
      // `new URL` drops an explicit :80; an entry has to name its port, so look at the text.
      const hasPort = /:\d+$/.test(text);
      if (!hasPort || parsed.pathname !== "/" || parsed.username !== "") continue;
      const port = parsed.port === "" ? "80" : parsed.port;
      out.add(`${parsed.hostname}:${port}`);
    } catch {
      // not a host:port: ignored
    }
  }
  allowListCache.set(entries, out);
  return out;
}

/**
 * The host as written in the URL text (after the scheme, slashes, and userinfo; before the port,
 * path, query or fragment), percent-decoded, lowercased, without trailing dots — for spotting
 * IPv4 spellings the URL parser normalised away. Null when it cannot be found.
 */
function rawHost(url: string): string | null {
  // The URL parser strips leading/trailing C0 controls and spaces and removes tabs and newlines.
  // eslint-disable-next-line no-control-regex
  const text = url.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "").replace(/[\t\n\r]/g, "");
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:/.exec(text);
  if (!scheme) return null;
  let rest = text.slice(scheme[0].length).replace(/^[/\\]+/, "");
  const end = rest.search(/[/\\?#]/);
  if (end !== -1) rest = rest.slice(0, end);
  const at = rest.lastIndexOf("@");
  if (at !== -1) rest = rest.slice(at + 1);
  let host: string;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    host = close === -1 ? rest : rest.slice(0, close + 1);
  } else {
    const colon = rest.indexOf(":");
    host = colon === -1 ? rest : rest.slice(0, colon);
  }
  try {
    host = decodeURIComponent(host);
  } catch {
    return null;
  }
  host = host.normalize("NFKC").replace(/[\u3002\uff0e\uff61]/g, ".").toLowerCase();
  while (host.endsWith(".")) host = host.slice(0, -1);
  return host;
}

function truncate(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
