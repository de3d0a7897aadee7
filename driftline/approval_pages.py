"""A person's part on an approval link's pages: open the confirmation page, then submit its form.

The demo follows the emailed links this way, and ``driftline approve`` / ``reject`` decides a trial winner's
promotion this way (with a link it signs), so every decision goes through the same pages and the same checks.
"""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class PageAnswer:
    """What the page answered the form with."""

    status: int
    title: str
    message: str
    """The page's paragraphs, one line each."""


def decide_on_page(url: str, *, approver: str, reason: str = "", agent: str = "driftline") -> PageAnswer:
    """GET the link's confirmation page as a browser would, then POST its form; the page that answered.

    A link that can no longer decide (already decided, expired, its run ended) answers its page without a form,
    which is returned as it is.
    """
    browser = {"User-Agent": agent, "Sec-Fetch-Site": "none", "Accept": "text/html"}
    status, page = _open(urllib.request.Request(url, headers=browser))
    token = re.search(r'name="token" value="([^"]*)"', page)
    if token is None:
        return _answer(status, page)
    form = urllib.parse.urlencode({"token": html.unescape(token.group(1)), "approver": approver, "reason": reason})
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
    post = urllib.request.Request(
        url,
        data=form.encode(),
        method="POST",
        headers={
            **browser,
            "Sec-Fetch-Site": "same-origin",
            "Origin": origin,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    return _answer(*_open(post, timeout=60))


def decide_as_a_person(url: str, *, approver: str, reason: str = "") -> str:
    """Decide through the link's page as a person would; the title of the page the form's POST answered with.

    Raises ``RuntimeError`` when the page shows no form (the link can no longer decide anything).
    """
    answer = decide_on_page(url, approver=approver, reason=reason, agent="driftline-demo")
    if answer.status != 200:
        raise RuntimeError(f"the approval page at {url} answered {answer.status}: {answer.title}: {answer.message}")
    return answer.title


def _open(request: urllib.request.Request, timeout: float = 30) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:  # the pages answer 4xx with a page that says why
        return int(error.code), error.read().decode(errors="replace")


def _answer(status: int, page: str) -> PageAnswer:
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    paragraphs = re.findall(r"<p>(.*?)</p>", page, re.DOTALL)
    return PageAnswer(
        status=status,
        title=html.unescape(title.group(1)) if title else "(no title)",
        message=" ".join(html.unescape(text) for text in paragraphs),
    )
