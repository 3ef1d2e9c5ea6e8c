import { BlockList, isIPv6 } from 'node:net';

/*
 * Which addresses a webhook may be delivered to. Anything that is not plainly a public unicast
 * address is refused, so a webhook URL cannot reach loopback, private networks, cloud metadata
 * or anything else inside our network (SSRF), whatever spelling of the address it uses.
 */

/**
 * One dotted-IPv4 part as the WHATWG URL parser (and inet_aton) reads it: `0x…` hex, a leading
 * `0` octal, else decimal. null when the part is not a number in any of those spellings.
 */
function ipv4Number(part: string): number | null {
  if (/^0x[0-9a-f]*$/i.test(part)) return part.length === 2 ? 0 : parseInt(part.slice(2), 16);
  if (/^0[0-7]+$/.test(part)) return parseInt(part.slice(1), 8);
  if (/^(0|[1-9][0-9]*)$/.test(part)) return Number(part);
  return null;
}

/** `127.0.0.1`, `127.1`, `0177.0.0.1`, `0x7f.1`, `2130706433` and friends → dotted decimal, else null. */
function parseIpv4(host: string): string | null {
  const parts = host.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // a trailing dot is still the same host
  if (parts.length === 0 || parts.length > 4) return null;
  const numbers = parts.map(ipv4Number);
  if (numbers.some((n) => n === null)) return null;
  const values = numbers as number[];
  const last = values.pop()!;
  // Leading parts are one byte each; the last one fills the remaining bytes (`127.1` = 127.0.0.1).
  if (values.some((n) => n > 255) || last >= 256 ** (4 - values.length)) return null;
  let value = last;
  values.forEach((n, i) => (value += n * 256 ** (3 - i)));
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Any IPv6 spelling → the URL standard's serialization (lower case, compressed, hex groups only). */
function parseIpv6(host: string): string | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const address = bare.split('%')[0]!; // a zone id does not change which address it is
  if (!isIPv6(address)) return null;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/**
 * The canonical text of `host` when it is an IP address in any spelling (IPv4 decimal, octal,
 * hex or shortened; IPv6 with or without brackets, IPv4-mapped…), else null (a host name).
 */
export function parseIpLiteral(host: string): string | null {
  const text = host.trim().toLowerCase();
  if (text === '') return null;
  return parseIpv4(text) ?? parseIpv6(text);
}

/** The 8 groups of a canonical IPv6 text as returned by parseIpv6. */
function ipv6Groups(canonical: string): number[] {
  const [head, tail] = canonical.split('::') as [string, string | undefined];
  const parse = (text: string | undefined) => (text ? text.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

const v4FromGroups = (high: number, low: number): string => [high >> 8, high & 255, low >> 8, low & 255].join('.');

// IANA special-purpose IPv4 ranges that are not public unicast destinations.
const BLOCKED_V4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation TEST-NET-2
  ['203.0.113.0', 24], // documentation TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast 255.255.255.255
];

// Inside global unicast 2000::/3, the ranges that still are not a public host.
const BLOCKED_V6: ReadonlyArray<[string, number]> = [
  ['2001::', 23], // IETF protocol assignments, incl. Teredo 2001::/32 and benchmarking 2001:2::/48
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: wraps an IPv4 address we would have to trust blindly
  ['3fff::', 20], // documentation
];

const blockedV4 = new BlockList();
for (const [network, prefix] of BLOCKED_V4) blockedV4.addSubnet(network, prefix, 'ipv4');
const globalUnicast = new BlockList();
globalUnicast.addSubnet('2000::', 3, 'ipv6');
const blockedInsideGlobal = new BlockList();
for (const [network, prefix] of BLOCKED_V6) blockedInsideGlobal.addSubnet(network, prefix, 'ipv6');

/**
 * The IPv4 address an IPv6 address stands for: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
 * `::a.b.c.d` (deprecated, includes `::` and `::1`) and NAT64 `64:ff9b::/96`. null otherwise.
 */
function embeddedIpv4(groups: number[]): string | null {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const zeroHead = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (zeroHead && (g5 === 0xffff || g5 === 0)) return v4FromGroups(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return v4FromGroups(g6, g7);
  return null;
}

/**
 * Whether a webhook may be delivered to `ip` (any spelling parseIpLiteral reads). False for
 * loopback, private, link-local, CGNAT, multicast, reserved, documentation and benchmarking
 * ranges, IPv6 outside public global unicast (`::1`, `::`, ULA, link-local, multicast, 6to4,
 * Teredo, NAT64 local use) and IPv6 forms wrapping a non-public IPv4 address. False for text
 * that is no IP address at all.
 */
export function isPublicAddress(ip: string): boolean {
  const canonical = parseIpLiteral(ip);
  if (canonical === null) return false;
  if (!canonical.includes(':')) return !blockedV4.check(canonical, 'ipv4');
  const groups = ipv6Groups(canonical);
  const v4 = embeddedIpv4(groups);
  if (v4 !== null) return !blockedV4.check(v4, 'ipv4');
  return globalUnicast.check(canonical, 'ipv6') && !blockedInsideGlobal.check(canonical, 'ipv6');
}
