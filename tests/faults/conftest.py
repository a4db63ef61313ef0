"""Fixtures of the fault tests: one Cosmos container for the whole folder (each test writes
under its own customer id, so tests never see each other's data), and the tally printed at the
end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.cosmos import ContainerProxy, CosmosClient
from faults_support import TALLY, render_tally

from support.cosmos_fixtures import TEST_DATABASE, CosmosTarget, fresh_container


@pytest.fixture(scope="session")
def faults_container(cosmos_target: CosmosTarget) -> Iterator[tuple[CosmosTarget, str]]:
    with fresh_container(cosmos_target) as name:
        yield cosmos_target, name


@pytest.fixture(scope="session")
def faults_raw(faults_container: tuple[CosmosTarget, str]) -> Iterator[ContainerProxy]:
    """The shared container through the bare SDK, to look at items as Cosmos holds them."""
    target, name = faults_container
    client = CosmosClient(
        target.endpoint, credential=target.key, connection_verify=target.verify_tls
    )
    yield client.get_database_client(TEST_DATABASE).get_container_client(name)
    client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY:
        terminalreporter.section("issue 13 fault tally")
        for line in render_tally(TALLY):
            terminalreporter.write_line(line)
