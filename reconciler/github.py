"""GitHub Actions workflow commands, so errors show on the changed lines of a PR."""

from __future__ import annotations

import os

MODES = ("auto", "text", "github")


def enabled(mode: str) -> bool:
    """`auto` means: annotate when running under GitHub Actions."""
    if mode == "github":
        return True
    return mode == "auto" and os.environ.get("GITHUB_ACTIONS") == "true"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: str, message: str, *, file: str | None = None, line: int | None = None, title: str = ""
) -> str:
    """`::error file=F,line=L,title=T::message`, escaped as the runner expects."""
    props = []
    if file:
        props.append(f"file={_prop(file)}")
        if line and line > 0:
            props.append(f"line={line}")
    if title:
        props.append(f"title={_prop(title)}")
    head = f"::{level}"
    if props:
        head += " " + ",".join(props)
    return f"{head}::{_data(message)}"
