"""The assignment console in a real browser: the head signs in, assigns, a pupil gets in.

Driven through stable ids and data attributes only (`#establishments`, `#counters
tr[data-audience]`, `#assign-division`, `#verdict`), so wording and layout may change freely.
The tests share one testbed per module: each works on subscriptions or people the others
leave alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from broker.api_auth import create_client
from broker.db import make_engine, session_factory
from broker.models import Assignment
from services.dataset import MOCK_DISTRIBUTOR
from services.settings import Settings
from tests.subscriptions import wire

pytestmark = pytest.mark.browser

COLLEGE, LYCEE = "0359901X", "0359902Y"
MATHS = f"ABO-MANUEL-MATHS-4E-{COLLEGE}"
LYCEE_DICTIONARY = f"ABO-DICTIONNAIRE-{LYCEE}"


def _pupils_used(page: Page) -> int:
    return int(page.locator('#counters tr[data-audience="ELEVE"] td[data-used]')
               .get_attribute("data-used") or "-1")


def _sign_in(page: Page, settings: Settings, persona: str, path: str = "/console/") -> None:
    """Open a console page and sign in through the broker's single sign-on as ``persona``."""
    page.goto(f"{settings.broker_base}{path}")
    page.wait_for_url(f"{settings.idp_base}/**")
    page.locator(f'#login-form button[name="persona"][data-login="{persona}"]').click()
    page.wait_for_url(f"{settings.broker_base}/**")


@pytest.fixture(scope="module")
def subscribe(live_testbed: Settings) -> Iterator[Callable[[str], str]]:
    """``subscribe(category)``: a new subscription of the maths textbook for the collège,
    pushed by its distributor through the web service; returns its id."""
    engine = make_engine(live_testbed.sqlalchemy_url)
    with session_factory(engine).begin() as session:
        _, token = create_client(session, kind="distributor", ident=MOCK_DISTRIBUTOR,
                                 name="Distributeur du test navigateur")
    engine.dispose()
    client = httpx.Client(base_url=f"{live_testbed.broker_base}/abonnements-ws",
                          headers={"Authorization": f"Bearer {token}"}, timeout=20)

    def make(category: str) -> str:
        subscription_id = f"ABO-NAV-{uuid.uuid4().hex[:10]}"
        body = wire.abonnement(subscription_id, categorieAffectation=category)
        answer = client.put(f"/{subscription_id}", content=body, headers=wire.XML_HEADERS)
        assert answer.status_code == 201, answer.text
        return subscription_id

    try:
        yield make
    finally:
        client.close()


def test_the_head_assigns_the_maths_textbook_to_4b_and_its_pupil_opens_it(
    live_testbed: Settings, page: Page, chromium: Browser, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.broker_base}/console/")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="chef.etablissement"]').click()
    page.wait_for_url(f"{live_testbed.broker_base}/console/")
    expect(page.locator(f'#establishments tr[data-uai="{COLLEGE}"]')).to_be_visible()
    screenshot("console-1-home")

    page.locator(f'#establishments tr[data-uai="{COLLEGE}"] a').click()
    expect(page.locator(f'#subscriptions tr[data-subscription="{MATHS}"]')).to_be_visible()
    screenshot("console-2-dashboard")
    page.locator(f'#subscriptions tr[data-subscription="{MATHS}"] a').click()
    expect(page.locator("#counters")).to_be_visible()
    before = _pupils_used(page)

    page.locator("#target-division").select_option("4B")
    page.locator("#assign-division button[type=submit]").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator('#assignments tr[data-kind="division"][data-value="4B"]')).to_be_visible()
    assert _pupils_used(page) > before
    screenshot("console-3-assigned")

    pupil = chromium.new_context(locale="fr-FR")
    try:
        pupil_page = pupil.new_page()
        pupil_page.goto(f"{live_testbed.provider_base}/resource/manuel-maths-4e")
        pupil_page.wait_for_url(f"{live_testbed.idp_base}/**")
        pupil_page.locator(
            '#login-form button[name="persona"][data-login="eleve.sans.licence"]').click()
        pupil_page.wait_for_url(f"{live_testbed.provider_base}/**")
        expect(pupil_page.locator("#verdict")).to_have_attribute("data-result", "ok")
    finally:
        pupil.close()


def test_a_pupil_is_refused_the_console(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.broker_base}/console/")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="eleve.assigne"]').click()
    page.wait_for_url(f"{live_testbed.broker_base}/**")
    expect(page.locator("#error-code")).to_have_text("console.not_officer")
    screenshot("console-4-refused")


def test_the_head_finds_a_pupil_by_name_assigns_her_and_recovers_and_extends_licences(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    page.goto(f"{live_testbed.broker_base}/console/etablissements/{COLLEGE}/abonnements/{MATHS}")
    page.wait_for_url(f"{live_testbed.idp_base}/**")
    page.locator('#login-form button[name="persona"][data-login="chef.etablissement"]').click()
    page.wait_for_url(f"{live_testbed.broker_base}/console/**")
    expect(page.locator("#target-person")).to_have_count(0)

    page.get_by_label("Nom ou prénom (au moins 2 caractères)").fill("mar")
    page.locator("#search-person button[type=submit]").click()
    expect(page.locator("#search-result")).to_be_visible()
    options = page.locator("#target-person option")
    assert 0 < options.count() <= 20
    chosen = options.first.get_attribute("value")
    screenshot("console-5-search")
    page.locator("#assign-person button[type=submit]").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator(f'#assignments tr[data-kind="person"][data-value="{chosen}"]')
           ).to_be_visible()

    page.locator('#assignments tr[data-kind="division"] form.refresh button').first.click()
    expect(page.locator("#done")).to_contain_text("étendue")
    expect(page.locator("#recover button")).to_be_disabled()  # nobody has left the collège
    expect(page.locator("#locked")).to_have_attribute("data-locked", "0")
    screenshot("console-6-refreshed")


@pytest.mark.parametrize(("category", "back"), [("transferable", True),
                                                ("non transferable", False)])
def test_withdrawing_4b_gives_its_licences_back_only_when_they_are_transferable(
    live_testbed: Settings, page: Page, subscribe: Callable[[str], str],
    screenshot: Callable[[str], Path], category: str, back: bool
) -> None:
    subscription_id = subscribe(category)
    _sign_in(page, live_testbed, "chef.etablissement",
             f"/console/etablissements/{COLLEGE}/abonnements/{subscription_id}")
    expect(page.locator("#counters")).to_be_visible()
    assert _pupils_used(page) == 0
    page.locator("#target-division").select_option("4B")
    page.locator("#assign-division button[type=submit]").click()
    expect(page.locator("#done")).to_be_visible()
    assigned = _pupils_used(page)
    assert assigned > 0

    row = page.locator('#assignments tr[data-kind="division"][data-value="4B"]')
    row.locator('form[action$="/retrait"] button').click()
    expect(page.locator("#done")).to_be_visible()
    expect(row).to_have_count(0)
    assert _pupils_used(page) == (0 if back else assigned)
    screenshot(f"console-7-withdrawn-{'back' if back else 'kept'}")


def test_the_head_names_a_delegate_who_can_then_sign_in_to_the_console(
    live_testbed: Settings, page: Page, chromium: Browser, screenshot: Callable[[str], Path]
) -> None:
    def teacher_signs_in() -> Page:
        context = chromium.new_context(locale="fr-FR")
        teacher = context.new_page()
        _sign_in(teacher, live_testbed, "enseignant")
        return teacher

    before = teacher_signs_in()
    try:
        expect(before.locator("#error-code")).to_have_text("console.not_officer")
    finally:
        before.context.close()

    _sign_in(page, live_testbed, "chef.etablissement",
             f"/console/etablissements/{COLLEGE}/delegation")
    option = page.locator("#delegate-person option", has_text="Dubois")
    person_id = option.get_attribute("value")
    page.locator("#delegate-person").select_option(person_id)
    page.locator("#delegate-form button[type=submit]").click()
    expect(page.locator(f'#officers tr[data-person="{person_id}"]')).to_have_attribute(
        "data-role", "RAD")
    screenshot("console-8-delegated")

    after = teacher_signs_in()
    try:
        expect(after.locator(f'#establishments tr[data-uai="{COLLEGE}"]')).to_be_visible()
        after.locator(f'#establishments tr[data-uai="{COLLEGE}"] a').click()
        expect(after.locator(f'#subscriptions tr[data-subscription="{MATHS}"]')).to_be_visible()
        expect(after.locator("#delegation-link")).to_have_count(0)  # a delegate does not delegate
    finally:
        after.context.close()


def _assignments_of(settings: Settings, subscription_id: str) -> int:
    engine = make_engine(settings.sqlalchemy_url)
    with session_factory(engine)() as session:
        count = session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.subscription_id == subscription_id))
    engine.dispose()
    return int(count or 0)


def test_acting_in_another_establishment_is_refused_on_the_page(
    live_testbed: Settings, page: Page, screenshot: Callable[[str], Path]
) -> None:
    _sign_in(page, live_testbed, "chef.etablissement", f"/console/etablissements/{LYCEE}")
    expect(page.locator("#error-code")).to_have_text("console.establishment_forbidden")
    screenshot("console-9-other-establishment")

    # The collège's own form, pointed at the lycée (what a tampered page would post).
    page.goto(f"{live_testbed.broker_base}/console/etablissements/{COLLEGE}/abonnements/{MATHS}")
    form = page.locator("#assign-division")
    form.evaluate("""(form, lycee) => {
        form.action = form.action.replace(lycee.college, lycee.uai);
        form.querySelector('[name=subscription_id]').value = lycee.subscription;
        const division = form.querySelector('select');
        division.innerHTML = '<option value="2NDE04">2NDE04</option>';
    }""", {"college": COLLEGE, "uai": LYCEE, "subscription": LYCEE_DICTIONARY})
    before = _assignments_of(live_testbed, LYCEE_DICTIONARY)
    form.locator("button[type=submit]").click()
    expect(page.locator("#error-code")).to_have_text("console.establishment_forbidden")
    assert _assignments_of(live_testbed, LYCEE_DICTIONARY) == before
