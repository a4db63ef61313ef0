"""An HTTP Function app (Python v2 programming model) over `conversation_store.aio`.

Routes (under the host's `/api` prefix; every call needs a function key, `?code=` or the
`x-functions-key` header):

    POST   /conversations                                   create (optionally with messages)
    POST   /conversations/{conversation_id}/messages        append one message
    GET    /conversations/{conversation_id}[?window=N]      whole conversation, or newest N
    GET    /customers/{customer_id}/conversations[?limit=&continuation=]   recent, paged
    DELETE /conversations/{conversation_id}                 delete (204 even if already gone)
    GET    /health                                          liveness, no key (App Service)

The customer comes from the route, the `x-customer-id` header, the `customer_id` query
parameter or body field (all given must agree). Function keys authenticate the *calling
service*, not an end user: the caller is trusted to name the customer it acts for.

One manager (one Cosmos client) per worker process, created on first use from the app
settings (`Settings.from_env`); tests inject their own with `set_manager`.
"""

import os
from urllib.parse import quote, urlencode

import azure.functions as func
import http_mapping as http

from conversation_store import Settings
from conversation_store.aio import ConversationManager

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_manager: ConversationManager | None = None


def get_manager() -> ConversationManager:
    """This worker's manager; the first call opens it from the app settings (no I/O yet)."""
    global _manager
    if _manager is None:
        _manager = ConversationManager.from_settings(Settings.from_env(os.environ))
    return _manager


def set_manager(manager: ConversationManager | None) -> ConversationManager | None:
    """Serve requests with `manager` (None: back to the settings' one). Returns the previous."""
    global _manager
    previous, _manager = _manager, manager
    return previous


@app.route(route="conversations", methods=["POST"])
@http.mapped_errors
async def create_conversation(req: func.HttpRequest) -> func.HttpResponse:
    request = http.new_conversation(req)
    manager = get_manager()
    conversation = manager.create_conversation_document(
        request.customer_id, request.session_id, **request.options
    )
    for message in request.messages:
        manager.add_message_to_conversation(
            conversation, message.role, message.content, **message.options
        )
    await manager.save_conversation(conversation)
    query = urlencode({"customer_id": conversation.customer_id})
    location = f"/api/conversations/{quote(conversation.id)}?{query}"
    return http.json_response(conversation.to_document(), 201, {"Location": location})


@app.route(route="conversations/{conversation_id}/messages", methods=["POST"])
@http.mapped_errors
async def append_message(req: func.HttpRequest) -> func.HttpResponse:
    body = http.json_body(req)
    message = http.message_input(body)
    result = await get_manager().append_message(
        http.route_value(req, "conversation_id"),
        http.customer_id_of(req, body),
        message.role,
        message.content,
        **message.options,
    )
    # pending: accepted into the local outbox while Cosmos DB is unavailable (degraded mode).
    return http.json_response(result, 202 if result.pending else 201)


@app.route(route="conversations/{conversation_id}", methods=["GET"])
@http.mapped_errors
async def get_conversation(req: func.HttpRequest) -> func.HttpResponse:
    conversation_id = http.route_value(req, "conversation_id")
    customer_id = http.customer_id_of(req)
    window = http.int_param(req, "window", default=None, minimum=1, maximum=http.MAX_WINDOW)
    manager = get_manager()
    if window is None:
        conversation = await manager.load_conversation(conversation_id, customer_id)
        return http.json_response(conversation.to_document())
    messages = await manager.get_history(conversation_id, customer_id, max_messages=window)
    return http.json_response(
        {
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "window": window,
            "messages": [m.model_dump(mode="json") for m in messages],
        }
    )


@app.route(route="customers/{customer_id}/conversations", methods=["GET"])
@http.mapped_errors
async def list_conversations(req: func.HttpRequest) -> func.HttpResponse:
    limit = http.int_param(req, "limit", default=http.DEFAULT_LIST_LIMIT, minimum=1, maximum=100)
    page = await get_manager().get_recent_conversations(
        http.customer_id_of(req),
        limit=limit or http.DEFAULT_LIST_LIMIT,
        continuation=req.params.get("continuation") or None,
    )
    return http.json_response(page)


@app.route(route="conversations/{conversation_id}", methods=["DELETE"])
@http.mapped_errors
async def delete_conversation(req: func.HttpRequest) -> func.HttpResponse:
    await get_manager().delete_conversation(
        http.route_value(req, "conversation_id"), http.customer_id_of(req)
    )
    return func.HttpResponse(status_code=204)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness for App Service's health check: the worker answers. It does not call Cosmos DB."""
    return http.json_response({"status": "ok"})
