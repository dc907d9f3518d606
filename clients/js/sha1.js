// sha1.js: SHA-1 (FIPS 180-4) in plain JavaScript, for the CheckSum header of qunfa's signed
// API (`sha1(AppSecret + Nonce + CurTime)`).
//
// Browsers offer SHA-1 only through WebCrypto's `crypto.subtle`, which exists in secure
// contexts alone (HTTPS or localhost): a console opened over plain HTTP on a LAN address has
// none. SHA-1 is not used here for anything secret-keeping beyond what the protocol demands.

const encoder = new TextEncoder();

/**
 * The SHA-1 digest of `input` (a string is hashed as UTF-8), as 40 lowercase hex digits.
 * @param {string|Uint8Array} input
 * @returns {string}
 */
export function sha1Hex(input) {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input;
  if (!(bytes instanceof Uint8Array)) throw new TypeError('sha1Hex: a string or a Uint8Array');
  const h = digest(bytes);
  let out = '';
  for (const word of h) out += (word >>> 0).toString(16).padStart(8, '0');
  return out;
}

/** The five state words after hashing `bytes`. */
function digest(bytes) {
  const bitLength = bytes.length * 8;
  // The message, a 0x80 byte, zeros up to 56 mod 64, then the length as a 64-bit big-endian.
  const padded = new Uint8Array((((bytes.length + 8) >> 6) + 1) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);

  let h0 = 0x67452301;
  let h1 = 0xefcdab89;
  let h2 = 0x98badcfe;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i += 1) w[i] = view.getUint32(block + i * 4);
    for (let i = 16; i < 80; i += 1) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let i = 0; i < 80; i += 1) {
      let f;
      let k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const t = (rotl(a, 5) + f + e + k + w[i]) >>> 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
  }
  return [h0, h1, h2, h3, h4];
}

function rotl(x, n) {
  return ((x << n) | (x >>> (32 - n))) >>> 0;
}
