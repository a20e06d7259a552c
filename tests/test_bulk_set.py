"""copytrade.core.bulk: many rows written in one statement; the ``any_of`` lookup."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, connection, transaction
from django.db.models import IntegerChoices
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from accounts.models import BrokerAccount, User
from copytrade.core.array_params import array_literal, array_param, array_params, plain_array
from copytrade.core.bulk import (
    bulk_insert,
    bulk_set,
    bulk_set_columns,
    loaded,
    loaded_rows,
)
from journal.models import EventType, JournalEntry, Position
from routing.models import AccountSession, CopyOrder

pytestmark = pytest.mark.django_db


# A position row's columns without a database default (a flat position).
_FLAT = {
    "qty": 0,
    "avg_price": Decimal(0),
    "realized_pnl": Decimal(0),
    "unrealized_pnl": Decimal(0),
}


def _positions(n: int) -> list[Position]:
    user = User.objects.create_user("u", password="pw-123456789")
    rows = []
    for i in range(n):
        account = BrokerAccount.objects.create(owner=user, name=f"A{i}", external_id=f"a{i}")
        rows.append(Position.objects.create(account=account, symbol="MNQH6"))
    return rows


def test_it_writes_every_row_in_one_statement_exactly() -> None:
    rows = _positions(3)
    untouched = Position.objects.create(account=rows[0].account, symbol="MESH6", qty=7)
    when = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    for i, row in enumerate(rows):
        row.qty = -i - 1
        row.avg_price = Decimal("21000.25") + i
        row.mark_price = None if i == 0 else Decimal("21001.75")
        row.unrealized_pnl = Decimal("-12.345") * (i + 1)
        row.updated_at = when
    with CaptureQueriesContext(connection) as queries:
        matched = bulk_set(rows, ["qty", "avg_price", "mark_price", "unrealized_pnl", "updated_at"])
    assert (matched, len(queries)) == (3, 1)
    stored = {p.pk: p for p in Position.objects.all()}
    assert [(stored[r.pk].qty, stored[r.pk].avg_price) for r in rows] == [
        (-1, Decimal("21000.25")),
        (-2, Decimal("21001.25")),
        (-3, Decimal("21002.25")),
    ]
    assert [stored[r.pk].mark_price for r in rows] == [
        None,
        Decimal("21001.75"),
        Decimal("21001.75"),
    ]
    assert [stored[r.pk].unrealized_pnl for r in rows] == [
        Decimal("-12.345"),
        Decimal("-24.690"),
        Decimal("-37.035"),
    ]
    assert {stored[r.pk].updated_at for r in rows} == {when}
    assert stored[untouched.pk].qty == 7  # a row not given is left alone


def test_it_refuses_unsaved_rows_and_writes_nothing_for_none() -> None:
    assert bulk_set([], ["qty"]) == 0
    with pytest.raises(ValueError, match="saved Position rows"):
        bulk_set([Position(symbol="MNQH6")], ["qty"])


def test_set_columns_writes_plain_values_by_key_in_one_statement() -> None:
    rows = _positions(2)
    when = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    with CaptureQueriesContext(connection) as queries:
        matched = bulk_set_columns(
            Position,
            [rows[1].pk, rows[0].pk],
            {"qty": [4, -2], "mark_price": [Decimal("21001.75"), None], "updated_at": [when] * 2},
        )
    assert (matched, len(queries)) == (2, 1)
    stored = {p.pk: (p.qty, p.mark_price, p.updated_at) for p in Position.objects.all()}
    assert stored[rows[0].pk] == (-2, None, when)
    assert stored[rows[1].pk] == (4, Decimal("21001.75"), when)
    with pytest.raises(ValueError, match="qty: 1 values for 2 rows"):
        bulk_set_columns(Position, [rows[0].pk, rows[1].pk], {"qty": [1]})


def test_insert_returns_keys_in_row_order_and_stores_every_value() -> None:
    # Arrange: journal rows carry JSON (dict, None), text, ids and times.
    when = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    text = 'it\'s \\ "q" {}'
    extra = [{"n": i, "text": f"{text} {i}", "price": Decimal("1.25")} for i in range(3)]
    # Act
    with CaptureQueriesContext(connection) as queries:
        pks = bulk_insert(
            JournalEntry,
            {
                "owner_id": [7, 8, 9],
                "event_type": [EventType.COPY_ORDER_BLOCKED, "b.type", "x"],
                "message": ['a "quoted" one', "b, with a comma", "c {braced}"],
                "extra_data": extra,
                "before": [None, {"qty": 1}, None],
            },
            same={"occurred_at": when, "actor_label": "engine", "after": None},
        )
    # Assert
    assert len(queries) == 1
    stored = {e.pk: e for e in JournalEntry.objects.filter(pk__in=pks)}
    assert [stored[pk].owner_id for pk in pks] == [7, 8, 9]
    assert [stored[pk].message for pk in pks] == [
        'a "quoted" one',
        "b, with a comma",
        "c {braced}",
    ]
    blocked = EventType.COPY_ORDER_BLOCKED.value
    assert [stored[pk].event_type for pk in pks] == [blocked, "b.type", "x"]
    assert [stored[pk].extra_data for pk in pks] == [
        {"n": i, "text": f"{text} {i}", "price": "1.25"} for i in range(3)
    ]
    assert [stored[pk].before for pk in pks] == [None, {"qty": 1}, None]
    assert {(stored[pk].occurred_at, stored[pk].actor_label) for pk in pks} == {(when, "engine")}


def test_insert_ignoring_conflicts_skips_existing_rows_and_returns_new_keys() -> None:
    # Arrange: one account already holds an MNQH6 row with 3 contracts.
    (held,) = _positions(1)
    held.qty = 3
    held.save()
    when = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    flat = {**_FLAT, "created_at": when, "updated_at": when}
    # Act: MNQH6 again (a conflict) and MESH6 (new), in one statement.
    with CaptureQueriesContext(connection) as queries:
        pks = bulk_insert(
            Position,
            {"account": [held.account_id] * 2, "symbol": ["MNQH6", "MESH6"]},
            same=flat,
            ignore_conflicts=True,
        )
    # Assert: the existing row is untouched, only the new row's key returned.
    assert len(queries) == 1
    rows = dict(Position.objects.values_list("symbol", "qty"))
    assert rows == {"MNQH6": 3, "MESH6": 0}
    assert pks == [Position.objects.get(symbol="MESH6").pk]


def test_insert_refuses_text_longer_than_its_column_instead_of_cutting_it() -> None:
    # An explicit cast to varchar(20) cuts a longer value silently on
    # PostgreSQL; the column must refuse it (a fill id cut short would be
    # another fill's id).
    (row,) = _positions(1)
    when = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    with pytest.raises(DataError), transaction.atomic():
        bulk_insert(
            Position,
            {"account": [row.account_id], "symbol": ["M" * 21]},
            same={**_FLAT, "created_at": when, "updated_at": when},
        )
    with pytest.raises(DataError), transaction.atomic():
        bulk_set_columns(Position, [row.pk], {"symbol": ["M" * 21]})
    assert list(Position.objects.values_list("symbol", flat=True)) == ["MNQH6"]


def test_insert_writes_nothing_for_no_rows_and_refuses_ragged_columns() -> None:
    assert bulk_insert(JournalEntry, {"owner_id": []}) == []
    with pytest.raises(ValueError, match="message: 1 values for 2 rows"):
        bulk_insert(JournalEntry, {"owner_id": [1, 2], "message": ["a"]})
    assert not JournalEntry.objects.exists()


def test_any_of_matches_what_in_matches() -> None:
    rows = _positions(3)
    ids = [rows[0].account_id, rows[2].account_id, 10**12]
    by_in = set(Position.objects.filter(account_id__in=ids).values_list("pk", flat=True))
    assert set(Position.objects.filter(account_id__any_of=ids).values_list("pk", flat=True)) == (
        by_in
    )
    assert by_in == {rows[0].pk, rows[2].pk}
    # A foreign key by name, a primary key, and no keys at all.
    assert Position.objects.filter(account__any_of=ids).count() == 2
    assert Position.objects.filter(pk__any_of=[rows[1].pk]).get() == rows[1]
    assert not Position.objects.filter(account_id__any_of=[]).exists()
    assert Position.objects.exclude(account_id__any_of=[]).count() == 3
    with pytest.raises(TypeError, match="any_of takes integers"):
        Position.objects.filter(account_id__any_of=["1"])


AWKWARD = [
    'a "quoted" \\ back\\slash',
    "{braces}, commas; NULL",
    "NULL",
    "",
    "new\nline\ttab ünïcode ' apostrophe",
    "\\",
    '"',
]


def test_insert_and_set_store_awkward_text_dates_decimals_and_flags_exactly() -> None:
    # Arrange: every column type the array literal path writes, text that the
    # array syntax must escape, and NULLs; JSON goes through the driver.
    user = User.objects.create_user("u", password="pw-123456789")
    accounts = [
        BrokerAccount.objects.create(owner=user, name=f"A{i}", external_id=f"a{i}")
        for i in range(len(AWKWARD))
    ]
    when = datetime(2026, 3, 3, 15, 30, 0, 123456, tzinfo=UTC)
    days = [date(2026, 3, i + 1) for i in range(len(AWKWARD))]
    money = [Decimal("-12.345"), Decimal("0"), Decimal("1E+2"), Decimal("150000.10")] + [
        Decimal("7.5")
    ] * (len(AWKWARD) - 4)
    # Act
    with CaptureQueriesContext(connection) as queries:
        pks = bulk_insert(
            AccountSession,
            {
                "account_id": [a.pk for a in accounts],
                "trading_date": days,
                "opened_at": [when] * len(AWKWARD),
                "opening_balance": money,
                "high_water": money,
                "eod_high_water": money,
                "halt_reason": AWKWARD,
                "halted_at": [None, when, *[None] * (len(AWKWARD) - 2)],
                "flatten_due": [i % 2 == 0 for i in range(len(AWKWARD))],
            },
            same={"created_at": when, "updated_at": when, "opening_unrealized": Decimal(0)},
        )
        bulk_set_columns(AccountSession, pks[:2], {"halt_reason": ['x"y', "\\z"]})
    # Assert
    assert len(queries) == 2
    stored = {
        row[0]: row[1:]
        for row in AccountSession.objects.values_list(
            "pk",
            "trading_date",
            "opened_at",
            "opening_balance",
            "halt_reason",
            "halted_at",
            "flatten_due",
        )
    }
    assert [stored[pk] for pk in pks] == [
        (
            days[i],
            when,
            money[i],
            ['x"y', "\\z", *AWKWARD[2:]][i],
            when if i == 1 else None,
            i % 2 == 0,
        )
        for i in range(len(AWKWARD))
    ]


def test_array_literal_is_used_only_for_values_with_an_exact_text_form() -> None:
    when = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    assert array_param([1, None, -2]) == "{1,NULL,-2}"
    assert array_param(['a"b', "c\\d", ""]) == '{"a\\"b","c\\\\d",""}'
    assert array_param([Decimal("1.50"), True, date(2026, 3, 3)]) == "{1.50,t,2026-03-03}"
    assert array_param([when]) == '{"2026-03-03T15:30:00+00:00"}'
    # A naive time or a JSON value: the driver adapts the list.
    naive = [datetime(2026, 3, 3, 15, 30)]
    assert array_param(naive) is naive
    json_values = [1, {"n": 1}]
    assert array_param(json_values) is json_values
    # JSON as the driver would send it: the text of its own dumps.
    encoded = Jsonb({"q": 'a"b\\c', "n": Decimal("1.5")}, dumps=lambda o: f"<{o['q']}>")
    assert array_param([encoded, None]) == '{"<a\\"b\\\\c>",NULL}'
    no_dumps = [Jsonb({"n": 1})]
    assert array_param(no_dumps) is no_dumps
    # A member that is not text (a whole number's choice): the driver too.
    numbered = [_Level.ONE]
    assert array_param(numbered) is numbered


class _Level(IntegerChoices):
    ONE = 1


def test_text_choices_travel_as_the_text_the_driver_sends_for_them() -> None:
    statuses = [CopyOrder.Status.FILLED, CopyOrder.Status.SENT, CopyOrder.Status.FILLED]
    literal = array_param(statuses)
    assert literal == '{"filled","sent","filled"}'
    assert array_literal(list(statuses)) == literal
    # Mixed with other values (or other choices), element by element.
    mixed = [EventType.COPY_ORDER_BLOCKED, 'a"b', None, CopyOrder.Status.SENT]
    assert array_param(mixed) == f'{{"{EventType.COPY_ORDER_BLOCKED.value}","a\\"b",NULL,"sent"}}'
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::varchar[], %s::varchar[]", [literal, statuses])
        ours, drivers = cursor.fetchone()
    assert ours == drivers == ["filled", "sent", "filled"]


def test_a_decimal_the_field_refuses_is_refused_and_nothing_is_written() -> None:
    rows = _positions(2)
    for bad in (Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValidationError):
            bulk_set_columns(Position, [r.pk for r in rows], {"mark_price": [Decimal(1), bad]})
    assert set(Position.objects.values_list("mark_price", flat=True)) == {None}


def test_loaded_makes_the_instance_a_query_makes(alice: User) -> None:
    account = BrokerAccount.objects.create(
        owner=alice, name="Loaded", balance=Decimal("25000.50"), external_id="L-1"
    )
    names = [f.attname for f in BrokerAccount._meta.concrete_fields]
    row = list(BrokerAccount.objects.filter(pk=account.pk).values_list(*names).get())
    assert not post_init.has_listeners(BrokerAccount)  # the direct path, not from_db
    made, read = loaded(BrokerAccount, "default", row), BrokerAccount.objects.get(pk=account.pk)
    assert type(made) is BrokerAccount
    assert {n: getattr(made, n) for n in names} == {n: getattr(read, n) for n in names}
    assert (made._state.adding, made._state.db) == (False, "default")
    assert made.owner == alice  # the relation loads from its key, as on a read row
    made.name = "Saved"
    made.save(update_fields=["name"])  # a saved row: an UPDATE, not an INSERT
    assert BrokerAccount.objects.get(pk=account.pk).name == "Saved"
    with pytest.raises(ValueError, match="shorter"):  # a value short: refused, not half made
        loaded(BrokerAccount, "default", row[:-1])


def test_loaded_runs_post_init_receivers_when_a_model_has_them(alice: User) -> None:
    account = BrokerAccount.objects.create(owner=alice, name="Seen", balance=Decimal(1))
    names = [f.attname for f in BrokerAccount._meta.concrete_fields]
    row = BrokerAccount.objects.filter(pk=account.pk).values_list(*names).get()
    seen: list[object] = []

    def receiver(sender: type, instance: object, **kwargs: object) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=BrokerAccount)
    try:
        made = loaded(BrokerAccount, "default", row)
    finally:
        post_init.disconnect(receiver, sender=BrokerAccount)
    assert seen == [made]


def test_loaded_rows_refuses_rows_that_do_not_name_every_field(alice: User) -> None:
    account = BrokerAccount.objects.create(owner=alice, name="Rows", balance=Decimal(1))
    names = [f.attname for f in BrokerAccount._meta.concrete_fields]
    values = BrokerAccount.objects.filter(pk=account.pk).values_list(*names).get()
    row = dict(zip(names, values, strict=True))
    assert loaded_rows(BrokerAccount, "default", [row])[0].name == "Rows"
    del row["name"]
    with pytest.raises(ValueError, match="not its fields"):
        loaded_rows(BrokerAccount, "default", [row])
    with pytest.raises(ValueError, match="not its fields"):
        loaded_rows(BrokerAccount, "default", [{**row, "name": "x", "nickname": "y"}])


def test_aware_instants_in_any_zone_are_stored_as_the_same_instants() -> None:
    user = User.objects.create_user("tz", password="pw-123456789")
    account = BrokerAccount.objects.create(owner=user, name="TZ", external_id="tz")
    chicago, kolkata = ZoneInfo("America/Chicago"), ZoneInfo("Asia/Kolkata")
    instants = [
        datetime(2026, 3, 8, 7, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 8, 1, 59, 59, tzinfo=chicago),  # just before the DST change
        datetime(2026, 3, 8, 3, 0, 0, tzinfo=chicago),  # just after it
        datetime(2026, 3, 8, 20, 15, 0, 1, tzinfo=kolkata),
    ]
    pks = bulk_insert(
        AccountSession,
        {
            "account_id": [account.pk] * 4,
            "trading_date": [date(2026, 3, d) for d in (2, 3, 4, 5)],
            "opened_at": instants,
            "halted_at": instants[::-1],
        },
        same={
            "opening_balance": Decimal(1),
            "opening_unrealized": Decimal(0),
            "high_water": Decimal(1),
            "eod_high_water": Decimal(1),
            "halt_reason": "",
            "flatten_due": False,
            "created_at": instants[0],
            "updated_at": instants[0],
        },
    )
    naive = datetime(2026, 3, 9, 12, 0)  # made aware in the current zone (UTC), with a warning
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        bulk_set_columns(AccountSession, pks[:2], {"halted_at": [naive, instants[0]]})
    stored = dict(AccountSession.objects.values_list("pk", "opened_at"))
    assert [stored[pk] for pk in pks] == instants  # equal instants, whatever the zone
    halted = dict(AccountSession.objects.values_list("pk", "halted_at"))
    assert [halted[pk] for pk in pks] == [
        naive.replace(tzinfo=UTC),
        instants[0],
        instants[1],
        instants[0],
    ]


_ZONES = st.sampled_from([UTC, ZoneInfo("America/Chicago"), None])
_INSTANTS = st.builds(
    lambda when, zone: when.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    _ZONES,
)
_COLUMNS = st.one_of(
    st.lists(st.one_of(st.integers(), st.decimals(allow_nan=False, places=4)), max_size=20),
    st.lists(st.text(max_size=8), max_size=20),
    st.lists(st.sampled_from(list(CopyOrder.Status)), max_size=20),
    st.lists(_INSTANTS, max_size=20),
    st.integers(1, 20).flatmap(lambda n: _INSTANTS.map(lambda when: [when] * n)),
    st.lists(st.one_of(st.integers(), st.text(max_size=3), st.none(), st.booleans()), max_size=8),
)


@given(_COLUMNS)
def test_plain_columns_when_composed_at_once_then_same_literal_as_element_by_element(
    values: list,
) -> None:
    # The whole-column fast path answers exactly what the element loop does.
    plain = plain_array(values)
    if plain is not None:
        assert plain == array_literal(list(values))
    assert array_param(values) == array_literal(list(values))


def test_distinct_instants_travel_binary_and_one_instant_as_one_literal() -> None:
    first = datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    later = datetime(2026, 3, 3, 9, 31, tzinfo=ZoneInfo("America/Chicago"))
    naive = datetime(2026, 3, 3, 15, 30)
    params, marks = array_params([[first, later], [first, first], [first, naive], [1, 2]])
    assert marks == ["%b", "%s", "%s", "%s"]
    assert params[0] == [first, later]
    assert params[1] == '{"2026-03-03T15:30:00+00:00","2026-03-03T15:30:00+00:00"}'
    assert params[2] == [first, naive]  # the driver adapts it (and refuses the mix)
    assert params[3] == "{1,2}"
