// A real OpenID provider for the sign-on tests: the certified oidc-provider package with
// its own login and consent pages, test accounts from a JSON file, and a few control
// endpoints (guarded by a per-run token) that the tests use to change an account's groups
// or to make the *next* ID token defective (expired, wrong audience, unknown issuer,
// another sign-in's nonce, wrong signature). Defective tokens are issued by this provider with its own clock.
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, CONTROL_TOKEN, ACCOUNTS_FILE.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import { Provider } from 'oidc-provider';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK } from 'jose';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(readFileSync(process.env.ACCOUNTS_FILE, 'utf8'));
const control = process.env.CONTROL_TOKEN;

const kid = 'test-signing-key';
async function rsaJwk() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}
const signingJwk = await rsaJwk();
// Same kid, different key: a token signed with it must fail signature verification.
const rogueJwk = await rsaJwk();

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
    + `<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

function findAccountByLogin(login) {
  return Object.prototype.hasOwnProperty.call(accounts, login) ? accounts[login] : undefined;
}

function findAccountBySub(sub) {
  return Object.values(accounts).find((a) => a.sub === sub);
}

const configuration = {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    // native: loopback redirect URIs match on any port (RFC 8252 7.3), which lets the
    // tests' web servers use whatever port they get.
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/login/oidc/callback/', 'http://localhost/login/oidc/callback/'],
    post_logout_redirect_uris: ['http://127.0.0.1/login/', 'http://localhost/login/'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    // acr / amr (how the user authenticated) with every ID token, as IdPs commonly send them.
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Claims of the granted scopes go into the ID token as well, as most IdPs do.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: { IdToken: 3600, AccessToken: 3600, Session: 3600, Interaction: 600, Grant: 3600, AuthorizationCode: 60 },
  async findAccount(ctx, sub) {
    const account = findAccountBySub(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: account.email,
          email_verified: true,
          name: account.name,
          preferred_username: account.login,
          groups: [...account.groups],
        };
      },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
};

const provider = new Provider(issuer, configuration);

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function jsonBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function loginForm(uid, error = '') {
  return page('Sign in to the Test IdP', `${error ? `<p role="alert" id="error">${escape(error)}</p>` : ''}
    <form method="post" action="/interaction/${escape(uid)}/login" id="idp-login">
      <label for="idp-username">Username</label> <input id="idp-username" name="username" autofocus>
      <label for="idp-password">Password</label> <input id="idp-password" name="password" type="password">
      <button type="submit" id="idp-submit">Sign in</button>
    </form>`);
}

function consentForm(uid, client, scopes) {
  return page('Allow access?', `<p>${escape(client)} asks for: ${escape(scopes.join(', '))}</p>
    <form method="post" action="/interaction/${escape(uid)}/confirm" id="idp-consent">
      <button type="submit" id="idp-allow">Allow</button>
    </form>`);
}

// One-shot defect for the next ID token the token endpoint returns.
let nextDefect = null;

async function defective(idToken, defect) {
  const claims = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = signingJwk;
  if (defect === 'expired') Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  else if (defect === 'audience') claims.aud = 'some-other-client';
  else if (defect === 'issuer') claims.iss = `${issuer}/elsewhere`;
  else if (defect === 'nonce') claims.nonce = 'not-the-nonce-of-this-sign-in';
  else if (defect === 'signature') key = rogueJwk;
  else throw new Error(`unknown defect ${defect}`);
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .sign(await importJWK(key, 'RS256'));
}

provider.use(async (ctx, next) => {
  const path = ctx.path;

  if (path.startsWith('/_test/')) {
    if (ctx.get('x-test-control') !== control) { ctx.status = 403; return; }
    if (ctx.method === 'GET' && path === '/_test/now') {
      ctx.body = { now: Date.now() / 1000 };
      return;
    }
    if (ctx.method === 'POST' && path === '/_test/defect') {
      nextDefect = (await jsonBody(ctx.req)).defect || null;
      ctx.body = { defect: nextDefect };
      return;
    }
    const match = path.match(/^\/_test\/accounts\/([^/]+)$/);
    if (ctx.method === 'PUT' && match && findAccountByLogin(match[1])) {
      const change = await jsonBody(ctx.req);
      Object.assign(accounts[match[1]], change);
      ctx.body = accounts[match[1]];
      return;
    }
    ctx.status = 404;
    return;
  }

  const interaction = path.match(/^\/interaction\/([^/]+)(\/login|\/confirm)?$/);
  if (interaction) {
    const [, uid, action] = interaction;
    ctx.set('cache-control', 'no-store');
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) { ctx.status = 400; return; }
    const { prompt, params, session } = details;
    if (!action && ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = prompt.name === 'login'
        ? loginForm(uid)
        : consentForm(uid, params.client_id, String(params.scope).split(' '));
      return;
    }
    if (action === '/login' && ctx.method === 'POST') {
      const form = await formBody(ctx.req);
      const account = findAccountByLogin(form.get('username') || '');
      if (!account || account.password !== form.get('password')) {
        ctx.type = 'html';
        ctx.body = loginForm(uid, 'Wrong username or password.');
        return;
      }
      // The second factor this provider vouches for (amr / acr), per account.
      const login = account.mfa
        ? { accountId: account.sub, amr: ['pwd', 'otp', 'mfa'], acr: 'urn:dlqadmin:test:mfa' }
        : { accountId: account.sub, amr: ['pwd'], acr: 'urn:dlqadmin:test:pwd' };
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { login }, { mergeWithLastSubmission: false }));
      return;
    }
    if (action === '/confirm' && ctx.method === 'POST') {
      await formBody(ctx.req);
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const missing = prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } },
        { mergeWithLastSubmission: true }));
      return;
    }
    ctx.status = 405;
    return;
  }

  await next();

  if (path === '/token' && nextDefect && ctx.status === 200 && ctx.body && ctx.body.id_token) {
    const defect = nextDefect;
    nextDefect = null;
    ctx.body = { ...ctx.body, id_token: await defective(ctx.body.id_token, defect) };
  }
});

provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
