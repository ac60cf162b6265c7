// A real OpenID provider for the OAuth tests of `serve --http`: node-oidc-provider (OpenID
// Certified), configured as a team's IdP would be for msgbatch-mcp. Started by tests/oauth.rs on
// loopback; stops when its stdin closes (the test ended) or on SIGTERM.
//
//   node ci/oidc/provider.mjs <node_modules dir> <resource URL>
//
// Prints `issuer <URL>` on stdout once it listens. What it serves:
// - the provider itself: discovery, JWKS, token endpoint (client_credentials with RFC 8707
//   resource indicators, so that access tokens are JWTs whose `aud` is the resource);
//   clients `reader` (batches:read) and `operator` (batches:read batches:cancel), secret
//   `<client_id>-secret`; any resource is accepted, so a token for another resource can be had;
//   and, for MCP clients, dynamic client registration (every client may ask for both scopes)
//   and the authorization-code flow with PKCE, signing in on the provider's development login
//   page (any name, any password);
// - POST /test/rotate: a new signing key replaces the old one (the old one leaves the JWKS), as
//   a key rotation at the IdP does;
// - POST /test/mint (JSON claims): a JWT with those claims signed by the provider's current key,
//   for what no honest provider issues (an expired token, another issuer).
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

const [modules, resource] = process.argv.slice(2);
if (!modules || !resource) {
  console.error('usage: provider.mjs <node_modules dir> <resource URL>');
  process.exit(2);
}
const load = (rel) => import(pathToFileURL(path.join(modules, rel)).href);
const { default: Provider } = await load('oidc-provider/lib/index.js');
const jose = await load('jose/dist/webapi/index.js');

const SCOPES = 'batches:read batches:cancel';
let generation = 0;

async function newKey() {
  generation += 1;
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: `test-key-${generation}`, alg: 'RS256', use: 'sig' };
}

function makeProvider(issuer, key) {
  const provider = new Provider(issuer, {
    clients: ['reader', 'operator'].map((id) => ({
      client_id: id,
      client_secret: `${id}-secret`,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: id === 'operator' ? SCOPES : 'batches:read',
    })),
    jwks: { keys: [key] },
    scopes: SCOPES.split(' '),
    cookies: { keys: ['test-only-cookie-key'] },
    features: {
      // Sign-in for the authorization-code flow (ci/oidc/oauth_flow.py): the built-in login and
      // consent pages, which accept any login name; that name becomes the token's `sub`.
      devInteractions: { enabled: true },
      // RFC 7591, as MCP clients expect of an authorization server.
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => ({
          scope: SCOPES,
          audience: indicator,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('provider error:', err));
  return provider;
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
let key = await newKey();
let provider = makeProvider(issuer, key);

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return JSON.parse(body || '{}');
}

server.on('request', async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/test/rotate') {
      key = await newKey();
      provider = makeProvider(issuer, key);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kid: key.kid }));
      return;
    }
    if (req.method === 'POST' && req.url === '/test/mint') {
      const claims = await readJson(req);
      const signer = await jose.importJWK(key, 'RS256');
      const token = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' })
        .sign(signer);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token }));
      return;
    }
    if (req.method === 'POST' && req.url === '/reg') {
      // This IdP lets every registered client ask for every scope (as Keycloak's realm default
      // and optional client scopes do): what a person gets is decided when they sign in. An MCP
      // client registers with the scope of its first challenge (batches:read) and must still be
      // able to step up to batches:cancel.
      const metadata = await readJson(req);
      metadata.scope = SCOPES;
      const body = Buffer.from(JSON.stringify(metadata));
      const forwarded = Readable.from([body]);
      Object.assign(forwarded, {
        method: req.method,
        url: req.url,
        headers: { ...req.headers, 'content-length': String(body.length) },
        httpVersion: req.httpVersion,
        socket: req.socket,
        connection: req.socket,
      });
      provider.callback()(forwarded, res);
      return;
    }
    provider.callback()(req, res);
  } catch (err) {
    res.writeHead(500);
    res.end(String(err));
  }
});

console.log(`issuer ${issuer}`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
