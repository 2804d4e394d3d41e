// panva's oidc-provider for the speed benchmark: client_credentials with RS256 JWT access tokens
// (RFC 9068 shape), one confidential client, a fresh 2048-bit key; `node server.mjs PORT`.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const key = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'bench' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'fernhollow-reports', client_secret: 'reports-secret', scope: 'customers:ro',
    grant_types: ['client_credentials'], redirect_uris: [], response_types: [],
  }],
  jwks: { keys: [key] },
  scopes: ['customers:ro'],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => `${issuer}/v3.5/agent`,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'customers:ro', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.listen(port, '127.0.0.1');
