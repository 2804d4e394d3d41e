// A strict, certified relying party (panva's openid-client 6) pointed at the mock server.
//
//   node tests/interop/rp.mjs <issuer> [client_id] [client_secret]
//
// RP_STEPS=dpop in the environment runs only the pushed-request and DPoP steps.
// Driven by tests/test_interop.py over stdio, one JSON object per line:
//   stdout  {"step": <name>, "ok": true, ...}           a step that worked
//           {"step": <name>, "ok": false, "error": {...}} a step where the client threw
//           {"step": "authorize", "url": ...}           then reads the callback URL from stdin
//           {"step": "authorize_deny", "url": ...}      the same, the user clicking Deny
//           {"step": "device", "verification_uri": ...} then reads one line ("approved") from stdin
//           {"step": "done"}
// The client is configured only from discovery. Every library check is left on: if a step throws,
// the server deviated from a spec (see /work/shared/reference/client-interop.md).
import * as client from 'openid-client'
import { authorize, done, emit, readLine, step } from './steps.mjs'

const [issuer, clientId = 'fernhollow-reports', clientSecret = 'reports-secret'] = process.argv.slice(2)
// The app's redirect URI (served by the app, not the server): mock_server.settings.APP_REDIRECT_URI,
// handed over by the test (its port follows MOCK_APP_PORT).
const APP_CALLBACK = process.env.APP_CALLBACK
if (!issuer) {
  console.error('usage: node rp.mjs <issuer> [client_id] [client_secret]')
  process.exit(2)
}
const insecure = { execute: [client.allowInsecureRequests] } // http:// on loopback only
const standard = process.env.RP_STEPS !== 'dpop' // RP_STEPS=dpop: only the PAR and DPoP steps
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code'



// The usual call, unchanged: with a secret, openid-client authenticates with client_secret_post.
const config = await step('discovery', async () => {
  const result = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, insecure)
  return { result, issuer: result.serverMetadata().issuer }
})
// The same app with client_secret_basic: openid-client URL-encodes id and secret first
// (RFC 6749 §2.3.1), so `fernhollow-reports` travels as `fernhollow%2Dreports`.
const basic = await step('discovery_basic', async () => {
  const result = await client.discovery(new URL(issuer), clientId, clientSecret,
    client.ClientSecretBasic(), insecure)
  return { result, issuer: result.serverMetadata().issuer }
})

if (config && standard) {
  // Authorization code + PKCE S256 + state + nonce, then every check openid-client makes.
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: APP_CALLBACK,
    scope: 'openid profile email customers:ro',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  const callback = await authorize(url)

  const tokens = await step('authorization_code', async () => {
    const result = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    })
    const claims = result.claims()
    return { result, token_type: result.token_type, scope: result.scope,
             expires_in: result.expires_in, claims, has_refresh_token: !!result.refresh_token }
  })

  if (tokens) {
    await step('userinfo', async () => {
      const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub)
      return { userinfo: info }
    })

    const refreshed = await step('refresh', async () => {
      const result = await client.refreshTokenGrant(config, tokens.refresh_token)
      return { result, token_type: result.token_type, scope: result.scope,
               rotated: !!result.refresh_token && result.refresh_token !== tokens.refresh_token }
    })

    if (refreshed) {
      await step('introspect_active', async () => {
        const answer = await client.tokenIntrospection(config, refreshed.access_token)
        return { active: answer.active, client_id: answer.client_id, sub: answer.sub }
      })
      await step('revoke', async () => {
        await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' })
        return {}
      })
      await step('introspect_revoked', async () => {
        const answer = await client.tokenIntrospection(config, refreshed.access_token)
        return { active: answer.active }
      })
    }
  }

  // The user clicks Deny: RFC 9207 says the error redirect names the issuer too, and openid-client
  // checks `iss` before it reports `access_denied`.
  const deniedState = client.randomState()
  const denied = client.buildAuthorizationUrl(config, {
    redirect_uri: APP_CALLBACK, scope: 'openid customers:ro', state: deniedState,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  emit('authorize_deny', { url: denied.href })
  const deniedCallback = await readLine()
  await step('access_denied', async () => {
    try {
      await client.authorizationCodeGrant(config, new URL(deniedCallback), {
        pkceCodeVerifier: verifier, expectedState: deniedState,
      })
    } catch (error) {
      if (error instanceof client.AuthorizationResponseError) {
        return { error: error.error }
      }
      throw error
    }
    throw new Error('a denied authorization produced tokens')
  })

  // Device authorization grant (RFC 8628).
  const device = await step('device_authorization', async () => {
    const result = await client.initiateDeviceAuthorization(config, { scope: 'customers:ro openid' })
    return { result, ...result }
  })
  if (device) {
    // One poll before the user acted: a 400 `authorization_pending` the client understands
    // (a WWW-Authenticate challenge on it would make oauth4webapi throw a different error).
    await step('device_pending', async () => {
      try {
        await client.genericGrantRequest(config, DEVICE_CODE, { device_code: device.device_code })
      } catch (error) {
        if (error instanceof client.ResponseBodyError) {
          return { error: error.error, status: error.status,
                   www_authenticate: error.response?.headers.get('www-authenticate') ?? null }
        }
        throw error
      }
      throw new Error('the token endpoint issued tokens before the user approved the device')
    })
    emit('device', { verification_uri: device.verification_uri, user_code: device.user_code })
    await readLine()
    await step('device_token', async () => {
      const result = await client.pollDeviceAuthorizationGrant(config, device)
      return { token_type: result.token_type, scope: result.scope, expires_in: result.expires_in,
               has_id_token: !!result.id_token }
    })
  }
}

// Client credentials for the app itself, with each of the advertised secret methods.
for (const [name, configured] of [['client_credentials_post', config], ['client_credentials_basic', basic]]) {
  if (!configured || !standard) continue
  await step(name, async () => {
    const result = await client.clientCredentialsGrant(configured, { scope: 'customers:ro' })
    return { token_type: result.token_type, scope: result.scope, expires_in: result.expires_in }
  })
}

// Dynamic client registration (RFC 7591), then that client's own client-credentials token.
const registered = standard && await step('registration', async () => {
  const result = await client.dynamicClientRegistration(new URL(issuer), {
    client_name: 'openid-client interop',
    redirect_uris: [APP_CALLBACK],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    scope: 'customers:ro openid',
  }, client.ClientSecretBasic(), insecure) // adopting the RFC 7591 default the server returns
  const metadata = result.clientMetadata()
  return { result, client_id: metadata.client_id,
           has_secret: typeof metadata.client_secret === 'string',
           client_secret_expires_at: metadata.client_secret_expires_at,
           token_endpoint_auth_method: metadata.token_endpoint_auth_method }
})
if (registered) {
  await step('registered_client_credentials', async () => {
    const result = await client.clientCredentialsGrant(registered, { scope: 'customers:ro' })
    return { token_type: result.token_type, scope: result.scope, expires_in: result.expires_in }
  })
}

// Pushed authorization requests (RFC 9126) and DPoP (RFC 9449), as openid-client does them: the
// public browser app pushes its request with a DPoP proof on the push (RFC 9449 §10.1), so the code,
// the tokens and the refresh token are bound to its key; then the API, userinfo and a refresh, each
// with a fresh proof. RP_STEPS=dpop runs only these (against a server that requires DPoP nonces:
// openid-client retries once with the nonce it was given).
const widget = await step('discovery_public', async () => {
  const result = await client.discovery(new URL(issuer), 'fernhollow-widget', undefined, client.None(), insecure)
  const metadata = result.serverMetadata()
  return { result, pushed_authorization_request_endpoint: metadata.pushed_authorization_request_endpoint,
           dpop_signing_alg_values_supported: metadata.dpop_signing_alg_values_supported }
})
if (widget) {
  const keyPair = await client.randomDPoPKeyPair('ES256')
  const DPoP = client.getDPoPHandle(widget, keyPair)
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = await step('par_dpop', async () => {
    const result = await client.buildAuthorizationUrlWithPAR(widget, {
      redirect_uri: APP_CALLBACK, scope: 'openid chats--access:ro customers:ro', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }, { DPoP })
    return { result, url: result.href, query: [...result.searchParams.keys()] }
  })
  if (url) {
    const callback = await authorize(url)
    const tokens = await step('dpop_authorization_code', async () => {
      const result = await client.authorizationCodeGrant(widget, new URL(callback), {
        pkceCodeVerifier: verifier, expectedState: state,
      }, undefined, { DPoP })
      return { result, token_type: result.token_type, scope: result.scope,
               has_refresh_token: !!result.refresh_token, jkt: await DPoP.calculateThumbprint() }
    })
    if (tokens) {
      await step('dpop_api', async () => {
        const response = await client.fetchProtectedResource(widget, tokens.access_token,
          new URL(`${issuer}/v3.5/agent/action/list_customers`), 'POST', '{}',
          new Headers({ 'content-type': 'application/json' }), { DPoP })
        return { status: response.status, customers: (await response.json()).customers?.length }
      })
      await step('dpop_userinfo', async () => {
        const info = await client.fetchUserInfo(widget, tokens.access_token, client.skipSubjectCheck, { DPoP })
        return { sub: info.sub }
      })
      await step('dpop_as_bearer_refused', async () => {
        try {
          await client.fetchProtectedResource(widget, tokens.access_token,
            new URL(`${issuer}/v3.5/agent/action/list_customers`), 'POST', '{}',
            new Headers({ 'content-type': 'application/json' }))
        } catch (error) {
          if (error instanceof client.WWWAuthenticateChallengeError) {
            return { status: error.response?.status,
                     challenges: error.cause.map((c) => ({ scheme: c.scheme, error: c.parameters.error ?? null,
                                                         algs: c.parameters.algs ?? null })) }
          }
          throw error
        }
        throw new Error('a DPoP-bound token was served as a bearer token')
      })
      await step('dpop_refresh', async () => {
        const result = await client.refreshTokenGrant(widget, tokens.refresh_token, undefined, { DPoP })
        return { token_type: result.token_type, rotated: result.refresh_token !== tokens.refresh_token }
      })
    }
  }
}
// The confidential app pushes too (client_secret_post at the PAR endpoint), without DPoP.
if (config && standard) {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = await step('par_confidential', async () => {
    const result = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: APP_CALLBACK, scope: 'customers:ro', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    })
    return { result, query: [...result.searchParams.keys()] }
  })
  if (url) {
    const callback = await authorize(url)
    await step('par_authorization_code', async () => {
      const result = await client.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier: verifier, expectedState: state,
      })
      return { token_type: result.token_type, scope: result.scope }
    })
  }
}

done()
