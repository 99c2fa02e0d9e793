import pytest

from tests.conftest import make_runtime


@pytest.fixture
def decision(db_url):
    """A migrated decision service with the starter criteria and the development users."""
    from services.decision.users import service as user_service
    from services.decision.criteria.seed import seed_starter_criteria

    runtime = make_runtime("decision", db_url)
    seed_starter_criteria(runtime.db, backdate=True)
    user_service.provision_dev_users(runtime.db)
    return runtime
