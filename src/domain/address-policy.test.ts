import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPublicAddress, parseIpLiteral } from './address-policy.js';

describe('parseIpLiteral', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0X7F.0.0.1', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['10.1', '10.0.0.1'],
    ['0', '0.0.0.0'],
    ['127.0.0.1.', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['0251.0376.0251.0376', '169.254.169.254'],
    ['0xa9fea9fe', '169.254.169.254'],
    ['8.8.8.8', '8.8.8.8'],
    ['255.255.255.255', '255.255.255.255'],
    ['4294967295', '255.255.255.255'],
    ['::1', '::1'],
    ['[::1]', '::1'],
    ['[0:0:0:0:0:0:0:1]', '::1'],
    ['::', '::'],
    ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['[::ffff:7f00:1]', '::ffff:7f00:1'],
    ['[::FFFF:7F00:1]', '::ffff:7f00:1'],
    ['FE80::1', 'fe80::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
  ])('%s → %s', (host, canonical) => {
    expect(parseIpLiteral(host)).toBe(canonical);
  });

  it.each([
    '',
    'example.com',
    'localhost',
    '127.0.0.1.example.com',
    '256.0.0.1',
    '1.2.3.4.5',
    '4294967296',
    '08.0.0.1',
    '1.2.3.0x100',
    '0xg.0.0.1',
    '1..2',
    '[::1',
    '::1]',
    '[example.com]',
    ':::1',
    '1:2:3:4:5:6:7:8:9',
  ])('%j is not an IP literal', (host) => {
    expect(parseIpLiteral(host)).toBeNull();
  });

  it('agrees with the URL parser on the IPv4 spellings it normalizes', () => {
    for (const host of ['2130706433', '0177.0.0.1', '0x7f.0.0.1', '127.1', '0x7f.1', '0.0.0.0', '127.0.0.1.']) {
      expect(parseIpLiteral(host)).toBe(new URL(`http://${host}/`).hostname);
    }
  });

  it('reads every 32-bit number in decimal, hex and octal the way the URL parser does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const expected = new URL(`http://${n}/`).hostname;
        expect(parseIpLiteral(String(n))).toBe(expected);
        expect(parseIpLiteral(`0x${n.toString(16)}`)).toBe(expected);
        expect(parseIpLiteral(`0${n.toString(8)}`)).toBe(expected);
      }),
    );
  });
});

describe('isPublicAddress', () => {
  it.each([
    // IPv4 ranges that must never be reached
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '10.255.255.255',
    '100.64.0.1',
    '100.127.255.255',
    '127.0.0.1',
    '127.255.255.254',
    '169.254.0.1',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.8',
    '192.0.2.1',
    '192.88.99.1',
    '192.168.0.1',
    '192.168.255.255',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.7',
    '203.0.113.9',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    // other spellings of the same
    '2130706433',
    '0177.0.0.1',
    '0x7f.0.0.1',
    '127.1',
    '0xa9fea9fe',
    // IPv6
    '::1',
    '[::1]',
    '::',
    'fc00::1',
    'fd12:3456:789a::1',
    'fe80::1',
    'febf::1',
    'fec0::1',
    'ff02::1',
    'ff0e::1',
    '100::1',
    '2001:db8::1',
    '3fff::1',
    '2001::1',
    '2001:2::1',
    '2002:7f00:1::1',
    '64:ff9b:1::1',
    // IPv6 wrapping a non-public IPv4
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '::10.0.0.1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a00:1',
    // not an address
    '',
    'example.com',
    'localhost',
  ])('%s is not public', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '93.184.216.34',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '192.167.255.255',
    '192.169.0.1',
    '198.17.255.255',
    '198.20.0.1',
    '223.255.255.255',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:830::200e',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
  ])('%s is public', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});
