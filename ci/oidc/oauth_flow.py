"""The official Python MCP SDK's OAuth client, end to end, against `serve --http` with OAuth.

    oauth_flow.py <mcp url> <batch id> <login name>

The SDK does everything a real client does: its first request is refused with 401, it reads the
resource metadata named there, then the authorization server's metadata, registers itself
(RFC 7591), sends the "browser" to sign in with PKCE and the resource (RFC 8707), exchanges the
code and retries with the token. The only stand-in is the browser: `sign_in` follows the
authorization URL and submits the provider's development login and consent pages as a person
would. Then it lists the tools and cancels one batch. Exits non-zero on any failure.
"""

import asyncio
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT = "http://127.0.0.1:9/callback"  # never listened on: sign_in stops at the redirect


class Memory(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Browser:
    """Signs in at the provider: login page, then consent page, then the redirect with the code."""

    def __init__(self, login: str) -> None:
        self.login = login
        self.result: AuthorizationCodeResult | None = None
        self.sign_ins = 0

    async def open(self, url: str) -> None:
        self.sign_ins += 1
        print("sign-in", self.sign_ins, "scope:", parse_qs(urlparse(url).query).get("scope"))
        async with httpx2.AsyncClient(follow_redirects=False, timeout=10) as http:
            response = await http.get(url)
            for _ in range(20):
                location = response.headers.get("location")
                if location and location.startswith(REDIRECT):
                    query = parse_qs(urlparse(location).query)
                    if "code" not in query:
                        raise SystemExit(f"the provider refused: {location}")
                    self.result = AuthorizationCodeResult(
                        code=query["code"][0],
                        state=query.get("state", [None])[0],
                        iss=query.get("iss", [None])[0],
                    )
                    return
                if location:
                    response = await http.get(urljoin(str(response.url), location))
                    continue
                form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                if response.status_code != 200 or not form:
                    raise SystemExit(f"unexpected page {response.status_code}: {response.text[:300]}")
                # The page's own fields (e.g. the hidden `prompt`), as a browser would send them.
                fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', response.text))
                if 'name="login"' in response.text:
                    fields.update(login=self.login, password="any")
                response = await http.post(urljoin(str(response.url), form.group(1)), data=fields)
        raise SystemExit("no redirect with a code after 20 steps")

    async def callback(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise SystemExit("the callback came before the sign-in")
        return self.result


async def main(url: str, batch_id: str, login: str) -> None:
    browser = Browser(login)
    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="msgbatch-mcp OAuth test",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=Memory(),
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                # Signed in for what the 401 asked: looking. The cancel tools are not offered.
                tools = sorted(t.name for t in (await session.list_tools()).tools)
                print("tools after sign-in:", ", ".join(tools))
                assert tools == ["get_message_batch", "get_message_batch_results", "list_message_batches"], tools
                # A cancel is 403 insufficient_scope: the SDK signs in again for the scope the
                # 403 names (step-up) and retries.
                result = await session.call_tool("cancel_message_batch", {"message_batch_id": batch_id})
                text = " ".join(getattr(c, "text", "") for c in result.content)
                print("cancel:", text.splitlines()[0] if text else result)
                assert not result.is_error, text
                assert "canceling" in text or "ended" in text, text
                assert browser.sign_ins == 2, browser.sign_ins
                tools = sorted(t.name for t in (await session.list_tools()).tools)
                print("tools after step-up:", ", ".join(tools))
                assert "cancel_message_batch" in tools, tools


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
