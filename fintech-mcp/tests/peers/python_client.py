"""A scripted agent on the official MCP Python SDK (`pip install mcp`), run against fintech-mcp.

Usage: python_client.py stdio|http|sse TARGET
  stdio: TARGET is the fintech-mcp binary (FINTECH_API_KEY and FINTECH_DATABASE_URL from env)
  http:  TARGET is the Streamable HTTP URL (…/mcp); sse: TARGET is the legacy SSE URL (…/sse)

It lists tools, makes a read call, runs a payment preview -> confirm (and checks the token
replays instead of charging twice), subscribes to the payment's resource, refunds it through
the same two-step flow, and waits for notifications/resources/updated for that URI. The SDK
validates every structured result against the tool's output schema. Prints one OK line.
"""

import asyncio
import os
import sys

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")


async def scenario(read, write, transport):
    updated = anyio.Event()
    watched = {}

    async def on_message(message):
        if isinstance(message, types.ResourceUpdatedNotification):
            if message.params.uri == watched.get("uri"):
                updated.set()

    async with ClientSession(read, write, message_handler=on_message) as s:
        await s.initialize()
        tools = {t.name: t for t in (await s.list_tools()).tools}
        check("payments_create" in tools and "whoami" in tools, f"tools listed: {sorted(tools)}")
        check(tools["whoami"].annotations.read_only_hint is True, "whoami is read-only")
        check(tools["payments_create"].annotations.destructive_hint is True, "payments are destructive")

        who = await s.call_tool("whoami", {})
        check(not who.is_error, "whoami succeeds")
        check(who.structured_content["whoami"]["payments_mode"] == "simulated", "mode visible")

        args = {"amount": "21.40", "payment_method": "pm_card_visa", "payee": "Python SDK"}
        preview = await s.call_tool("payments_create", args)
        check(not preview.is_error, f"preview: {preview.content}")
        sc = preview.structured_content
        check(sc["status"] == "confirmation_required", "first call only previews")
        token = sc["confirmation_token"]
        done = await s.call_tool("payments_create", {**args, "confirmation_token": token})
        check(done.structured_content["status"] == "executed", "token executes")
        payment = done.structured_content["payment"]
        check(payment["status"] == "succeeded", f"charged: {payment['status']}")
        again = await s.call_tool("payments_create", {**args, "confirmation_token": token})
        check(again.structured_content["replayed"] is True, "a reused token replays")
        check(again.structured_content["payment"]["id"] == payment["id"], "same payment")
        changed = await s.call_tool("payments_create", {**args, "amount": "99.00", "confirmation_token": token})
        check(changed.is_error, "a token is bound to its arguments")

        uri = f"fintech://payments/{payment['id']}"
        watched["uri"] = uri
        await s.subscribe_resource(uri)
        body = await s.read_resource(uri)
        check(payment["id"] in body.contents[0].text, "resource reads the payment")

        refund_args = {"payment_id": payment["id"], "amount": "5.00"}
        preview = await s.call_tool("payments_refund", refund_args)
        token = preview.structured_content["confirmation_token"]
        refund = await s.call_tool("payments_refund", {**refund_args, "confirmation_token": token})
        check(refund.structured_content["status"] == "executed", f"refund: {refund.content}")

        with anyio.fail_after(15):
            await updated.wait()
        prompts = [p.name for p in (await s.list_prompts()).prompts]
        check("monthly_spending_review" in prompts, "prompts listed")
    print(f"OK python sdk {transport}: tools, read call, preview->confirm, replay, subscription update")


async def elicitation(read, write, transport, answer):
    """A client that supports elicitation is asked to confirm instead of getting a token."""
    asked = []

    async def on_elicit(context, params):
        asked.append(params.message)
        if answer:
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    async with ClientSession(read, write, elicitation_callback=on_elicit) as s:
        await s.initialize()
        args = {"amount": "7.25", "payment_method": "pm_card_visa", "payee": "Elicited"}
        r = await s.call_tool("payments_create", args)
        check(len(asked) == 1 and "7.25" in asked[0], f"the human was asked: {asked}")
        if answer:
            check(not r.is_error and r.structured_content["status"] == "executed", f"accepted: {r.content}")
            check(r.structured_content["payment"]["status"] == "succeeded", "charged once accepted")
        else:
            check(r.is_error and "declined" in r.content[0].text, f"declined: {r.content}")
    print(f"OK python sdk {transport}: elicitation {'accept' if answer else 'decline'}")


async def main():
    transport, target = sys.argv[1], sys.argv[2]
    if transport == "stdio":
        params = StdioServerParameters(command=target, args=[], env=dict(os.environ))
        async with stdio_client(params) as (r, w):
            await scenario(r, w, transport)
    else:
        headers = {"Authorization": f"Bearer {os.environ['FINTECH_API_KEY']}"}
        if transport == "http":
            async with create_mcp_http_client(headers=headers) as client:
                async with streamable_http_client(target, http_client=client) as streams:
                    await scenario(streams[0], streams[1], transport)
            for answer in (True, False):
                async with create_mcp_http_client(headers=headers) as client:
                    async with streamable_http_client(target, http_client=client) as streams:
                        await elicitation(streams[0], streams[1], transport, answer)
        else:
            async with sse_client(target, headers=headers) as (r, w):
                await scenario(r, w, transport)


asyncio.run(main())
