/** JWTs for the test PostgREST, minted with jose (HS256, secret of 32+ characters). */
import { SignJWT } from 'jose';

export const JWT_SECRET = 'ccm-sync-test-secret-0123456789-abcdefghij';

export async function mintToken(claims: Record<string, unknown>, secret = JWT_SECRET): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
}

export const systemToken = (systemId: string) => mintToken({ role: 'authenticated', system_id: systemId });
export const anonKey = () => mintToken({ role: 'anon' });
