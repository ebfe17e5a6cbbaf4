/**
 * The outbound address policy as pure functions: no request is sent from this file.
 */
import { describe, expect, it } from "vitest";
import { StepError } from "../../src/engine/errors";
import { checkOutboundUrl, classifyHost, normaliseAllowList, parseIpv4, parseIpv6 } from "../../src/engine/ssrf";

/** [host as written, blocked?] — every spelling of a non-public address must be blocked. */
const HOSTS: readonly [string, boolean][] = [
  // IPv4 loopback in every spelling
  ["127.0.0.1", true],
  ["127.255.255.254", true],
  ["2130706433", true], // decimal
  ["0x7f000001", true], // hex
  ["0X7F000001", true],
  ["0x7f.0.0.1", true], // hex first part
  ["0177.0.0.1", true], // octal
  ["0177.0.0.01", true],
  ["127.1", true], // short form
  ["127.0.1", true],
  ["127.0.0.1.", true], // trailing dot
  ["１２７.０.０.１", true], // fullwidth digits (IDNA-mapped by URL parsers)
  // other private / special IPv4 ranges
  ["10.0.0.1", true],
  ["10.255.255.255", true],
  ["172.16.0.1", true],
  ["172.31.255.255", true],
  ["192.168.1.1", true],
  ["100.64.0.1", true], // CGNAT
  ["100.127.255.255", true],
  ["169.254.169.254", true], // cloud metadata
  ["169.254.0.1", true],
  ["0.0.0.0", true], // unspecified
  ["0", true],
  ["0.1.2.3", true],
  ["224.0.0.1", true], // multicast
  ["239.255.255.250", true],
  ["240.0.0.1", true], // reserved
  ["255.255.255.255", true], // broadcast
  ["198.18.0.1", true], // benchmarking
  ["198.19.255.255", true],
  ["192.0.2.10", true], // documentation
  ["192.0.0.8", true],
  ["256.0.0.1", true], // not an address at all: invalid, refused
  ["08.0.0.1", true], // bad octal: invalid, refused
  // IPv6
  ["[::1]", true],
  ["::1", true],
  ["[0:0:0:0:0:0:0:1]", true],
  ["[::]", true], // unspecified
  ["[::ffff:127.0.0.1]", true], // IPv4-mapped, dotted
  ["[::ffff:7f00:1]", true], // IPv4-mapped, hex
  ["[::ffff:a9fe:a9fe]", true], // mapped metadata address
  ["[::ffff:10.0.0.1]", true],
  ["[::127.0.0.1]", true], // IPv4-compatible (deprecated)
  ["[::7f00:1]", true],
  ["[::ffff:0:127.0.0.1]", true], // IPv4-translated
  ["[64:ff9b::127.0.0.1]", true], // NAT64 with private embedded address
  ["[64:ff9b::a9fe:a9fe]", true],
  ["[64:ff9b:1::1]", true], // local-use NAT64
  ["[2002:7f00:1::1]", true], // 6to4 of 127.0.0.1
  ["[fc00::1]", true], // unique-local
  ["[fd12:3456:789a::1]", true],
  ["[fe80::1]", true], // link-local
  ["[febf::1]", true],
  ["[fe80::1%25eth0]", true], // zone id
  ["[ff02::1]", true], // multicast
  ["[fec0::1]", true], // site-local
  ["[2001:db8::1]", true], // documentation
  ["[100::1]", true], // discard-only (outside 2000::/3)
  ["[not:an:address]", true],
  // names
  ["localhost", true],
  ["LOCALHOST", true],
  ["localhost.", true],
  ["api.localhost", true],
  ["a.b.localhost.", true],
  ["localhost.localdomain", true],
  ["metadata.google.internal", true],
  ["metadata.google.internal.", true],
  ["db.internal", true],
  ["printer.local", true],
  ["router.home.arpa", true],
  ["intranet", true], // single label
  ["", true],
  // public
  ["8.8.8.8", false],
  ["1.1.1.1", false],
  ["172.32.0.1", false], // just outside 172.16/12
  ["100.128.0.1", false], // just outside 100.64/10
  ["192.169.0.1", false],
  ["134744072", false], // 8.8.8.8 as a decimal: public (checkOutboundUrl refuses the spelling)
  ["[2606:4700:4700::1111]", false],
  ["[::ffff:8.8.8.8]", false], // mapped public address
  ["[64:ff9b::8.8.8.8]", false], // NAT64 of a public address
  ["[2002:808:808::1]", false], // 6to4 of 8.8.8.8
  ["example.com", false],
  ["Example.COM.", false],
  ["localhost.example.com", false],
  ["internal.example.com", false],
  ["xn--bcher-kva.example", false],
];

describe("classifyHost", () => {
  it.each(HOSTS)("%s → blocked: %s", (host, isBlocked) => {
    const verdict = classifyHost(host);
    expect(verdict.kind, JSON.stringify(verdict)).toBe(isBlocked ? "blocked" : "public");
    if (verdict.kind === "blocked") expect(verdict.reason).not.toBe("");
  });

  it("gives a reason naming the range", () => {
    expect(classifyHost("169.254.169.254")).toEqual({ kind: "blocked", reason: expect.stringContaining("metadata") });
    expect(classifyHost("[::ffff:127.0.0.1]")).toEqual({ kind: "blocked", reason: expect.stringContaining("127.0.0.1") });
    expect(classifyHost("[64:ff9b::10.1.2.3]")).toEqual({ kind: "blocked", reason: expect.stringContaining("NAT64") });
  });
});

describe("parseIpv4 / parseIpv6", () => {
  it("parses the forms URL parsers accept", () => {
    expect(parseIpv4("2130706433")).toBe(0x7f000001);
    expect(parseIpv4("0x7f.1")).toBe(0x7f000001);
    expect(parseIpv4("0177.0.0.1")).toBe(0x7f000001);
    expect(parseIpv4("127.1")).toBe(0x7f000001);
    expect(parseIpv4("1.2.3.4.5")).toBeNull();
    expect(parseIpv4("4294967296")).toBeNull();
    expect(parseIpv4("1.2.65536")).toBeNull();
  });

  it("parses compressed and embedded IPv6", () => {
    expect(parseIpv6("::ffff:127.0.0.1")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
    expect(parseIpv6("1::")).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(parseIpv6("1::2::3")).toBeNull();
    expect(parseIpv6("::ffff:300.0.0.1")).toBeNull();
  });
});

function refusal(url: string, allowed: readonly string[] = []): StepError {
  try {
    checkOutboundUrl(url, allowed);
  } catch (error) {
    if (error instanceof StepError) return error;
    throw error;
  }
  throw new Error(`${url} was not refused`);
}

describe("checkOutboundUrl", () => {
  it("returns the parsed URL of a public http(s) URL", () => {
    expect(checkOutboundUrl("https://example.com/a?b=1", []).href).toBe("https://example.com/a?b=1");
    expect(checkOutboundUrl("http://8.8.8.8:8080/", []).host).toBe("8.8.8.8:8080");
  });

  it("refuses what is not an absolute http(s) URL, or carries credentials", () => {
    for (const url of ["not a url", "/relative", "ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "data:text/plain,x"]) {
      const error = refusal(url);
      expect(error.code, url).toBe("INVALID_URL");
      expect(error.retryable).toBe(false);
    }
    expect(refusal("https://user:pass@example.com/").code).toBe("INVALID_URL");
    expect(refusal("https://user@example.com/").code).toBe("INVALID_URL");
  });

  it("refuses private hosts with SSRF_BLOCKED and the host in the details", () => {
    const error = refusal("http://169.254.169.254/latest/meta-data/");
    expect(error.code).toBe("SSRF_BLOCKED");
    expect(error.retryable).toBe(false);
    expect(error.details).toEqual({ host: "169.254.169.254:80", reason: expect.stringContaining("link-local") });
    expect(refusal("http://[::ffff:7f00:1]/").details?.host).toBe("[::ffff:7f00:1]:80");
    expect(refusal("https://LOCALHOST./").details?.host).toBe("localhost.:443");
  });

  it("classifies the host the URL parser sees (backslashes, tabs, percent-encoding, fullwidth digits)", () => {
    for (const url of ["http:\\\\127.0.0.1\\x", "http://127.0.0\t.1/", "http://127.0.0.%31/", "http://１２７.０.０.１/", "http://evil.com@127.0.0.1/"]) {
      const code = refusal(url).code;
      expect(["SSRF_BLOCKED", "INVALID_URL"], url).toContain(code);
    }
  });

  it("lets an allowed host:port through, only on that port", () => {
    const allowed = ["127.0.0.1:9999", "[::1]:8080", "LOCALHOST:3000"];
    expect(checkOutboundUrl("http://127.0.0.1:9999/echo", allowed).host).toBe("127.0.0.1:9999");
    expect(checkOutboundUrl("http://[0:0::1]:8080/", allowed).host).toBe("[::1]:8080");
    expect(checkOutboundUrl("http://localhost:3000/", allowed).host).toBe("localhost:3000");
    expect(refusal("http://127.0.0.1:8080/", allowed).code).toBe("SSRF_BLOCKED");
    expect(refusal("http://127.0.0.1/", allowed).code).toBe("SSRF_BLOCKED");
    expect(refusal("https://127.0.0.1:9999/", ["127.0.0.1:443"]).code).toBe("SSRF_BLOCKED");
    expect(checkOutboundUrl("https://127.0.0.1/", ["127.0.0.1:443"]).host).toBe("127.0.0.1");
    expect(refusal("http://localhost:9999/", allowed).code).toBe("SSRF_BLOCKED");
  });

  it("refuses IPv4 spellings other than dotted decimal, even when the address is allowed", () => {
    const allowed = ["127.0.0.1:9999"];
    for (const url of ["http://2130706433:9999/", "http://0x7f000001:9999/", "http://0x7f.0.0.1:9999/", "http://0177.0.0.1:9999/", "http://127.1:9999/"]) {
      const error = refusal(url, allowed);
      expect(error.code, url).toBe("SSRF_BLOCKED");
      expect(error.message).toContain("dotted decimal");
    }
    // …and for public addresses too: nobody needs them
    expect(refusal("http://134744072/").code).toBe("SSRF_BLOCKED");
  });

  it("normalises allow-list entries and ignores those without a port", () => {
    expect([...normaliseAllowList([" 127.0.0.1:9999 ", "[0::1]:80", "localhost", "", "bad entry:1", "Host.Example:8080"])]).toEqual([
      "127.0.0.1:9999",
      "[::1]:80",
      "host.example:8080",
    ]);
  });
});
