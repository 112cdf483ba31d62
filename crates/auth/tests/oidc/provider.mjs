// A real OpenID provider (panva/oidc-provider, OpenID Certified) for crates/auth/tests/oidc.rs.
// Test-only: it holds throwaway keys and fixed client secrets; never deploy it.
//
// Environment:
//   OIDC_PORT      port on 127.0.0.1 (0: any free one); the issuer is http://127.0.0.1:<port>
//   OIDC_KEY_DIR   directory of the private signing keys, one JWK file per kid; a key missing
//                  there is generated (so a restarted provider can keep publishing an old key)
//   OIDC_KEYS      kid:alg,... (alg RS256, ES256 or EdDSA): the published keys; the first signs
//   OIDC_RESOURCES comma-separated resource indicators (access token audiences) it serves
//   OIDC_CONSOLE_REDIRECT  when set, the redirect URI of a `procgate-console` client: a public
//                  client (PKCE) of the authorization code flow, for the console's sign-in;
//                  people sign in on the provider's development login form with any password,
//                  and their access token carries the roles of ACCOUNTS below (none for others)
//
// Clients (client_credentials grant, client_secret_post): each gets JWT access tokens for the
// resource it asks for, signed with the first key, carrying its roles in three claims: `roles`
// (a list), `realm_access.roles` (a nested list, as Keycloak does) and `procgate_roles` (one
// space-separated string), each with a different set so a test can tell which was read.
//
// Prints one line `listening <issuer>` on stdout once it answers.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const port = Number(process.env.OIDC_PORT ?? '0');
const keyDir = process.env.OIDC_KEY_DIR;
if (!keyDir) throw new Error('OIDC_KEY_DIR is required');
const keySpecs = (process.env.OIDC_KEYS ?? 'k1:RS256').split(',').map((spec) => {
  const [kid, alg] = spec.split(':');
  return { kid, alg };
});
const resources = (process.env.OIDC_RESOURCES ?? 'urn:procgate').split(',');

const CLIENTS = {
  'finance-system': {
    roles: ['finance', 'janitor'],
    realm: ['auditor', 'offline_access'],
    spaced: 'integration uma_authorization',
  },
  'it-desk': {
    roles: ['it_staff', 'admin'],
    realm: ['it_staff', 'default-roles-district'],
    spaced: 'auditor admin',
  },
};
const SECRET = 'test-client-secret-not-a-real-one';
const ACCOUNTS = {
  'tech@district.org': ['it_staff'],
  'cto@district.org': ['admin', 'auditor'],
};
const consoleRedirect = process.env.OIDC_CONSOLE_REDIRECT;

function privateJwk({ kid, alg }) {
  const file = path.join(keyDir, `${kid}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  let pair;
  switch (alg) {
    case 'RS256': pair = generateKeyPairSync('rsa', { modulusLength: 2048 }); break;
    case 'ES256': pair = generateKeyPairSync('ec', { namedCurve: 'P-256' }); break;
    case 'EdDSA': pair = generateKeyPairSync('ed25519'); break;
    default: throw new Error(`unsupported key algorithm ${alg}`);
  }
  const jwk = { ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  fs.writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  return jwk;
}

const jwks = { keys: keySpecs.map(privateJwk) };
const signWith = keySpecs[0];

const server = http.createServer();
await new Promise((resolve) => { server.listen(port, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const clients = Object.keys(CLIENTS).map((clientId) => ({
  client_id: clientId,
  client_secret: SECRET,
  grant_types: ['client_credentials'],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: 'client_secret_post',
  // Unused (no ID tokens here), but it must name an algorithm the keys have.
  id_token_signed_response_alg: signWith.alg,
}));
if (consoleRedirect) {
  clients.push({
    client_id: 'procgate-console',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [consoleRedirect],
    token_endpoint_auth_method: 'none',
    id_token_signed_response_alg: signWith.alg,
  });
}

const provider = new Provider(issuer, {
  clients,
  findAccount: (ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, email: id }),
  }),
  claims: { email: ['email'], openid: ['sub'] },
  jwks,
  features: {
    devInteractions: { enabled: Boolean(consoleRedirect) },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resources[0],
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (!resources.includes(resourceIndicator)) throw new errors.InvalidTarget();
        return {
          scope: 'api',
          audience: resourceIndicator,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: signWith.alg, kid: signWith.kid } },
        };
      },
    },
  },
  extraTokenClaims: (ctx, token) => {
    if (token.clientId === 'procgate-console') {
      return { roles: ACCOUNTS[token.accountId] ?? [] };
    }
    const client = CLIENTS[token.clientId];
    if (!client) return undefined;
    return {
      roles: client.roles,
      realm_access: { roles: client.realm },
      procgate_roles: client.spaced,
    };
  },
});
server.on('request', provider.callback());

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

process.stdout.write(`listening ${issuer}\n`);
