// An unsigned-looking JWT for tests of claim parsing (no gateway involved).
export function makeTokenOffline(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJl`;
}
