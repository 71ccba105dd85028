"""A cheap check at start that the model endpoint answers and takes the key, so a bad setup shows before a question."""

from __future__ import annotations

import logging

import openai

_log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 5.0


async def endpoint_problem(client: openai.AsyncOpenAI, *, timeout_s: float = CHECK_TIMEOUT_S) -> str | None:
    """Why questions will fail at the model endpoint, in one line, or None when `GET /models` answers."""
    where = str(client.base_url).rstrip("/")
    try:
        await client.with_options(timeout=timeout_s, max_retries=0).models.list()
    except openai.AuthenticationError:
        return f"the model endpoint {where} rejected the key (401): check OPENAI_API_KEY."
    except openai.APITimeoutError:
        return (
            f"the model endpoint {where} did not answer within {timeout_s:g} s: check OPENAI_BASE_URL and the server."
        )
    except openai.APIConnectionError:
        return f"cannot reach the model endpoint {where}: check OPENAI_BASE_URL and that the server is running."
    except openai.NotFoundError:
        return None  # some OpenAI-compatible servers have no model list; the endpoint itself answered
    except openai.APIStatusError as exc:
        return f"the model endpoint {where} answered {exc.status_code} to GET /models: answers may fail."
    return None


async def warn_if_endpoint_unusable(client: openai.AsyncOpenAI, *, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Log one WARNING line when the endpoint cannot be used; the bot keeps running either way."""
    problem = await endpoint_problem(client, timeout_s=timeout_s)
    if problem is not None:
        _log.warning("%s Questions will get an error until this is fixed.", problem[0].upper() + problem[1:])
