// An API that tells a client where to sign in, with panva's openid-client 6 and oauth4webapi, from
// nothing but the API's URL: its 401 challenge (RFC 9728 §5.1), its metadata (§3, checked as
// §3.3 says), the authorization server's metadata, a token for that API only (RFC 8707), which
// the other API refuses. Then the same with a client known by its metadata document.
//
//   node tests/interop/resource.mjs <api url> <other api url> <client_id> <client_secret> <document url>
//
// Driven by tests/test_interop.py over stdio as rp.mjs is: one JSON object per line, and
// {"step": "authorize", "url": ...} waits for the callback URL on stdin.
import * as client from 'openid-client'
import * as oauth from 'oauth4webapi'
import { authorize, done, step } from './steps.mjs'

const [api, otherApi, clientId, clientSecret, documentUrl] = process.argv.slice(2)
const APP_CALLBACK = process.env.APP_CALLBACK
const insecure = { execute: [client.allowInsecureRequests] } // http:// on loopback only

// The library's own reading of a challenge: a WWWAuthenticateChallengeError from a call it made.
async function challengeOf(config, token, url) {
  try {
    await client.fetchProtectedResource(config, token, new URL(url), 'POST', '{}',
      new Headers({ 'content-type': 'application/json' }))
  } catch (error) {
    if (error instanceof client.WWWAuthenticateChallengeError) {
      return { status: error.response.status, ...error.cause[0].parameters, scheme: error.cause[0].scheme }
    }
    throw error
  }
  throw new Error(`${url} accepted the token`)
}

async function codeFlow(config, resource) {
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: APP_CALLBACK, scope: 'agents--all:ro', state, resource,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  const callback = await authorize(url)
  return client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state },
    { resource })
}

// 1. The API, with no token it knows: what the challenge says. (A first configuration for the
//    library's calls only: the authorization server is not known yet; any issuer does for a 401.)
const placeholder = new client.Configuration({ issuer: new URL(api).origin }, clientId, clientSecret)
client.allowInsecureRequests(placeholder)
const challenge = await step('challenge', async () => {
  const result = await challengeOf(placeholder, 'no-token-yet', `${api}/action/list_agents`)
  return { result, ...result }
})

// 2. The metadata it points to, checked against the API's URL (§3.3), and the same document at the
//    well-known URL the library builds itself (§3.1).
const resourceServer = challenge && await step('resource_metadata', async () => {
  const result = await oauth.processResourceDiscoveryResponse(new URL(api), await fetch(challenge.resource_metadata))
  const again = await oauth.processResourceDiscoveryResponse(new URL(api),
    await oauth.resourceDiscoveryRequest(new URL(api), { [oauth.allowInsecureRequests]: true }))
  return { result, ...result, same_at_well_known: JSON.stringify(again) === JSON.stringify(result) }
})

// 3. The authorization server it names, discovered; a token for this API only.
const config = resourceServer && await step('discovery', async () => {
  const result = await client.discovery(new URL(resourceServer.authorization_servers[0]), clientId, clientSecret,
    undefined, insecure)
  const metadata = result.serverMetadata()
  return { result, issuer: metadata.issuer, code_challenge_methods_supported: metadata.code_challenge_methods_supported }
})
if (config) {
  const tokens = await step('authorization_code', async () => {
    const result = await codeFlow(config, api)
    return { result, access_token: result.access_token, scope: result.scope }
  })
  if (tokens) {
    await step('call', async () => {
      const answer = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${api}/action/list_agents`),
        'POST', '{}', new Headers({ 'content-type': 'application/json' }))
      return { status: answer.status }
    })
    await step('other_api', async () => challengeOf(config, tokens.access_token, `${otherApi}/action/list_agents`))
  }
  await step('client_credentials', async () => {
    const result = await client.clientCredentialsGrant(config, { scope: 'agents--all:ro', resource: otherApi })
    const answer = await client.fetchProtectedResource(config, result.access_token, new URL(`${otherApi}/action/list_agents`),
      'POST', '{}', new Headers({ 'content-type': 'application/json' }))
    return { status: answer.status }
  })
  await step('unknown_resource', async () => {
    try {
      await client.clientCredentialsGrant(config, { scope: 'agents--all:ro', resource: 'https://evil.example/api' })
    } catch (error) {
      if (error instanceof client.ResponseBodyError) return { error: error.error, status: error.status }
      throw error
    }
    throw new Error('a token for an unknown resource was issued')
  })
}

// 4. A client known by its metadata document: its URL is its client_id, no secret.
if (resourceServer && documentUrl) {
  const documentConfig = await step('document_discovery', async () => {
    const result = await client.discovery(new URL(resourceServer.authorization_servers[0]), documentUrl, undefined,
      client.None(), insecure)
    return { result, supported: result.serverMetadata().client_id_metadata_document_supported }
  })
  if (documentConfig) {
    await step('document_authorization_code', async () => {
      const result = await codeFlow(documentConfig, api)
      return { access_token: result.access_token }
    })
  }
}
done()
