"""Schemathesis over the OpenAPI schema, signed in as each role: no server errors, and every
response (status, content type, body) is what the schema documents."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.xdist_group("ingest")

ROLES = ("analyst", "place", "pcn-a", "practice-a1", "provider", "admin")


@pytest.fixture(scope="session")
def api_schema(web_app):
    return schemathesis.openapi.from_asgi("/api/openapi.json", web_app)


schema = schemathesis.pytest.from_fixture("api_schema")


def _for_role(who: str):
    @schema.parametrize()
    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.filter_too_much])
    def test(case, clients):
        case.call_and_validate(cookies={"phm_session": clients[who].cookies["phm_session"]})

    test.__doc__ = f"The API as the {who} account: no 5xx, every response as documented."
    return test


for _who in ROLES:  # one test per role (schemathesis cases cannot take parametrised fixtures)
    globals()[f"test_api_conforms_to_its_schema_as_{_who.replace('-', '_')}"] = _for_role(_who)
