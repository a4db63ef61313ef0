"""infra/main.bicep agrees with what the library reads and queries.

There is no Bicep compiler here, so these checks read the Bicep text: the container's name,
partition key and indexing policy, the data-plane role, and the apps' settings. The fields the
library filters or sorts on are derived from `conversation_store.stores.cosmos.queries`, so a
new query on an unindexed field fails here before it fails (or costs a scan) in Azure.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conversation_store import Settings
from conversation_store.stores.cosmos import queries as cosmos_queries
from conversation_store.stores.cosmos.config import (
    DEFAULT_CONTAINER,
    DEFAULT_DATABASE,
    PARTITION_KEY_PATH,
)

BICEP = Path(__file__).resolve().parents[2] / "infra" / "main.bicep"
CONTAINER_TYPE = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@"
DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
# Cosmos DB always indexes these system properties in consistent mode, whatever the policy.
ALWAYS_INDEXED = ("id", "_ts")
# Message bodies are never indexed (see below): queries look inside them only within one
# partition, after indexed filters (customer, type, conversation) chose the items.
NOT_INDEXED_BY_DESIGN = ("messages",)
# A message body as stored in a head or segment item: never indexed.
MESSAGE_BODY_PATHS = ("/messages/[]/content/?", "/messages/[]/role/?", "/messages/?")


@pytest.fixture(scope="module")
def bicep() -> str:
    # Drop // comments so that commented-out text never satisfies a check.
    return re.sub(r"(?m)^\s*//.*$|\s//[^'\n]*$", "", BICEP.read_text())


def enclosed(text: str, start: int) -> str:
    """The text from the bracket at or after `start` to its matching bracket."""
    opening = re.compile(r"[\[{]").search(text, start)
    assert opening is not None, f"no bracket after offset {start}"
    pairs = {"[": "]", "{": "}"}
    stack: list[str] = []
    in_string = False
    for index in range(opening.start(), len(text)):
        char = text[index]
        if char == "'":
            in_string = not in_string
        elif not in_string and char in pairs:
            stack.append(pairs[char])
        elif not in_string and stack and char == stack[-1]:
            stack.pop()
            if not stack:
                return text[opening.start() : index + 1]
    raise AssertionError("unbalanced brackets in infra/main.bicep")


def block(text: str, key: str) -> str:
    """The `[...]` or `{...}` value of the first `key:` in `text`."""
    match = re.search(rf"\b{re.escape(key)}\s*:", text)
    assert match is not None, f"{key} not found"
    return enclosed(text, match.end())


def container_resource(bicep: str) -> str:
    return enclosed(bicep, bicep.index(CONTAINER_TYPE))


def param_default(bicep: str, name: str) -> str:
    match = re.search(rf"^param {name} \w+ = '([^']*)'", bicep, re.MULTILINE)
    assert match is not None, f"param {name} has no string default"
    return match.group(1)


def paths(policy_block: str) -> list[str]:
    return re.findall(r"path:\s*'([^']+)'", policy_block)


def queried_fields() -> set[str]:
    """Every `c.<field>` the library's queries filter or sort on (after WHERE), including the
    optional filters (`*_FILTER`) they add."""
    texts = [
        value
        for name, value in vars(cosmos_queries).items()
        if name.endswith(("_QUERY", "_FILTER")) and isinstance(value, str)
    ]
    assert texts, "no *_QUERY constants in conversation_store.stores.cosmos.queries"
    fields: set[str] = set()
    for text in texts:
        condition = text.partition(" WHERE ")[2] if " WHERE " in text else text
        fields |= set(re.findall(r"\bc\.([A-Za-z_]\w*)", condition))
    return fields


def rule_matches(rule: str, path: str) -> int | None:
    """How specific `rule` is for the document `path` (higher wins); None: no match."""
    if rule == path:
        return 2 * rule.count("/") + 1  # an exact `/a/?` beats `/a/*`
    if rule.endswith("/*") and (path + "/").startswith(rule[:-1]):
        return 2 * rule.count("/")
    return None


def is_indexed(path: str, included: list[str], excluded: list[str]) -> bool:
    """Cosmos DB's rule: the most specific matching path decides (an exclusion wins a tie)."""
    matches = [
        (weight, not indexed)
        for rules, indexed in ((included, True), (excluded, False))
        for rule in rules
        if (weight := rule_matches(rule, path)) is not None
    ]
    return bool(matches) and not max(matches)[1]


def test_policy_rules_follow_cosmos_precedence() -> None:
    assert is_indexed("/a/?", ["/a/?"], ["/*"])
    assert not is_indexed("/b/?", ["/a/?"], ["/*"])
    assert is_indexed("/b/?", ["/*"], ["/messages/*"])
    assert not is_indexed("/messages/[]/content/?", ["/*"], ["/messages/*"])
    assert not is_indexed("/a/?", [], [])


def test_names_and_partition_key_match_the_library(bicep: str) -> None:
    container = container_resource(bicep)

    assert param_default(bicep, "databaseName") == DEFAULT_DATABASE
    assert param_default(bicep, "containerName") == DEFAULT_CONTAINER
    assert re.search(r"\bname:\s*containerName\b", container)
    assert paths_of_partition_key(container) == [PARTITION_KEY_PATH]


def paths_of_partition_key(container: str) -> list[str]:
    return re.findall(r"'([^']+)'", block(block(container, "partitionKey"), "paths"))


def test_every_queried_field_is_indexed(bicep: str) -> None:
    policy = block(container_resource(bicep), "indexingPolicy")
    included = paths(block(policy, "includedPaths"))
    excluded = paths(block(policy, "excludedPaths"))
    fields = queried_fields()

    assert {"customer_id", "type", "updated_at", "conversation_id", "archived", "ttl"} <= fields
    assert PARTITION_KEY_PATH.lstrip("/") in fields
    unindexed = sorted(
        f
        for f in fields
        if f not in ALWAYS_INDEXED + NOT_INDEXED_BY_DESIGN
        and not is_indexed(f"/{f}/?", included, excluded)
    )
    assert not unindexed, f"queried but not indexed in infra/main.bicep: {unindexed}"


def test_message_bodies_are_not_indexed(bicep: str) -> None:
    policy = block(container_resource(bicep), "indexingPolicy")
    included = paths(block(policy, "includedPaths"))
    excluded = paths(block(policy, "excludedPaths"))

    assert "/messages/*" in excluded
    assert not any(is_indexed(p, included, excluded) for p in MESSAGE_BODY_PATHS)
    assert re.search(r"indexingMode:\s*'consistent'", policy)


def test_ttl_is_on_per_item(bicep: str) -> None:
    assert re.search(r"\bdefaultTtl:\s*-1\b", container_resource(bicep))


def test_account_accepts_entra_id_only(bicep: str) -> None:
    assert re.search(r"\bdisableLocalAuth:\s*true\b", bicep)
    assert re.search(r"\ballowSharedKeyAccess:\s*false\b", bicep)
    for secret in (
        "listKeys(",
        "listConnectionStrings(",
        "primaryMasterKey",
        "AccountKey=",
        "COSMOSDB_KEY",
        "AZURE_OPENAI_API_KEY",
    ):
        assert secret not in bicep, f"{secret} must not appear in infra/main.bicep"


def test_identity_has_the_data_contributor_role_in_the_data_plane(bicep: str) -> None:
    assert f"'{DATA_CONTRIBUTOR}'" in bicep
    match = re.search(
        r"resource appDataContributor 'Microsoft\.DocumentDB/databaseAccounts/"
        r"sqlRoleAssignments@[^']+'",
        bicep,
    )
    assert match is not None
    assignment = enclosed(bicep, match.end())
    assert "principalId: identity.properties.principalId" in assignment
    assert "sqlRoleDefinitions/${cosmosDataContributorRoleId}" in assignment


def test_apps_get_the_settings_the_library_reads(bicep: str) -> None:
    settings = enclosed(bicep, bicep.index("var cosmosAppSettings"))
    names = re.findall(r"name:\s*'([^']+)'", settings)
    assert {
        "COSMOSDB_ENDPOINT",
        "COSMOSDB_DATABASE",
        "COSMOSDB_AIConversations_CONTAINER",
        "AZURE_CLIENT_ID",
    } <= set(names)
    # The names are the ones Settings.from_env reads.
    read = Settings.from_env(
        {
            "COSMOSDB_ENDPOINT": "https://x.documents.azure.com:443/",
            "COSMOSDB_DATABASE": "D",
            "COSMOSDB_AIConversations_CONTAINER": "C",
        }
    )
    assert (read.cosmos_endpoint, read.cosmos_database, read.cosmos_container) == (
        "https://x.documents.azure.com:443/",
        "D",
        "C",
    )
    assert read.cosmos_key is None  # so DefaultAzureCredential (the managed identity) is used
    for app in ("webApp", "functionApp"):
        resource = enclosed(bicep, bicep.index(f"resource {app} 'Microsoft.Web/sites@"))
        assert "appSettings: concat(cosmosAppSettings" in resource
        assert "'${identity.id}': {}" in resource
        assert "linuxFxVersion: 'PYTHON|${pythonVersion}'" in resource
    assert param_default(bicep, "pythonVersion") == "3.11"


def test_checkov_skips_give_reasons() -> None:
    skips = re.findall(r"checkov:skip=([^\n]*)", BICEP.read_text())
    assert skips
    for skip in skips:
        check, _, reason = skip.partition(":")
        assert re.fullmatch(r"CKV2?_AZURE_\d+", check), skip
        assert len(reason.strip()) > 20, f"{check} needs a reason"
