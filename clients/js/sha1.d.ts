// Type declarations of sha1.js.

/** The SHA-1 digest of `input` (a string is hashed as UTF-8), as 40 lowercase hex digits. */
export declare function sha1Hex(input: string | Uint8Array): string;
