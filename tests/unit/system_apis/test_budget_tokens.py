"""A slot's token names its grant in a store every process shares: no two may meet."""

from __future__ import annotations

import os

from system_apis.budget import new_token


def test_tokens_are_unique_and_fit_the_grant_column() -> None:
    tokens = [new_token() for _ in range(1000)]
    assert len(set(tokens)) == 1000
    assert max(len(token) for token in tokens) <= 40  # `erp_budget_grants.token`
    assert not any(" " in token for token in tokens)  # the Redis scripts split on spaces


def test_a_forked_child_draws_its_own_tokens() -> None:
    mine = new_token()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's)
        os.write(write, new_token().encode())
        os._exit(0)
    os.close(write)
    theirs = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(child, 0)
    prefix = mine.rsplit("-", 1)[0]
    assert not theirs.startswith(prefix)
