/** JWTs for the test PostgREST, minted with jose (HS256, secret of 32+ characters). */
import { SignJWT } from 'jose';

export const JWT_SECRET = 'ccm-sync-test-secret-0123456789-abcdefghij';

/** `expires`: when it expires ('2h' from now by default; a Date for one in the past). */
export async function mintToken(claims: Record<string, unknown>, secret = JWT_SECRET, expires: string | Date = '2h'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(expires instanceof Date ? new Date(expires.getTime() - 3_600_000) : undefined)
    .setExpirationTime(expires)
    .sign(new TextEncoder().encode(secret));
}

export const systemToken = (systemId: string) => mintToken({ role: 'authenticated', system_id: systemId });
export const anonKey = () => mintToken({ role: 'anon' });
