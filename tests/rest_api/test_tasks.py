"""Tasks: every /tasks filter, pagination and sorting, 422s, task state and task log."""

from __future__ import annotations

from typing import Any

import pytest

from fleetcore.store.models import TaskLogEntry, TaskState
from tests.rest_api.conftest import EPOCH, Client, FakeHub, position


async def _ids(client: Client, **params: Any) -> list[str]:
    response = await client.get("/tasks", params=params)
    assert response.status == 200, await response.text()
    return [task["booking"]["id"] for task in await response.json()]


async def _keyset_pages(client: Client, **params: Any) -> list[str]:
    """Every task of the query, read two at a time, each page after the last one's task."""
    pages: list[list[str]] = []
    after: dict[str, str] = {}
    while not pages or len(pages[-1]) == 2:
        pages.append(await _ids(client, limit="2", **params, **after))
        after = {"after": pages[-1][-1]} if pages[-1] else {}
    return [task for page in pages for task in page]


@pytest.fixture
async def tasks(hub: FakeHub) -> None:
    await hub.task(
        "t1",
        status="completed",
        category="patrol",
        assigned_to="r1",
        requester="ann",
        start=1000,
        finish=2000,
        requested=500,
        labels=("zone=north", "dashboard"),
    )
    await hub.task(
        "t2",
        status="underway",
        category="delivery",
        assigned_to="r2",
        requester="bob",
        start=3000,
        requested=2500,
        labels=("zone=south",),
    )
    await hub.task(
        "t3",
        status="queued",
        category="clean",
        requester="ann",
        requested=4000,
        labels=("zone=north",),
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["t1", "t2", "t3"]),
        ({"task_id": "t3,t1"}, ["t1", "t3"]),
        ({"category": "delivery"}, ["t2"]),
        ({"assigned_to": "r1,r2"}, ["t1", "t2"]),
        ({"status": "queued,underway"}, ["t2", "t3"]),
        ({"requester": "ann"}, ["t1", "t3"]),
        ({"label": "zone=north"}, ["t1", "t3"]),
        ({"label": "zone=north,dashboard"}, ["t1"]),
        ({"start_time_between": "1000,3000"}, ["t1", "t2"]),
        ({"finish_time_between": "1500,2500"}, ["t1"]),
        ({"request_time_between": "2500,4000"}, ["t2", "t3"]),
        ({"category": "patrol,clean", "requester": "ann", "status": "queued"}, ["t3"]),
        ({"task_id": ""}, ["t1", "t2", "t3"]),
    ],
    ids=[
        "none",
        "task_id",
        "category",
        "assigned_to",
        "status",
        "requester",
        "label",
        "every-label",
        "start_time",
        "finish_time",
        "request_time",
        "combined",
        "empty-is-none",
    ],
)
async def test_tasks_filter(
    client: Client, tasks: None, params: dict[str, str], expected: list[str]
) -> None:
    assert await _ids(client, **params) == expected


async def test_tasks_relative_time_range_means_the_last_n_millis(
    client: Client, hub: FakeHub
) -> None:
    from rest_api.query import now_ms

    await hub.task("old", start=now_ms() - 600_000)
    await hub.task("new", start=now_ms() - 1_000)

    assert await _ids(client, start_time_between="-60000") == ["new"]


async def test_tasks_limit_and_offset_page_through(client: Client, tasks: None) -> None:
    first = await _ids(client, limit="2")
    second = await _ids(client, limit="2", offset="2")

    assert first == ["t1", "t2"]
    assert second == ["t3"]


async def test_tasks_order_by_descending_field(client: Client, tasks: None) -> None:
    assert await _ids(client, order_by="-unix_millis_request_time") == ["t3", "t2", "t1"]


async def test_tasks_order_by_several_fields_and_rmf_web_id_name(
    client: Client, tasks: None
) -> None:
    assert await _ids(client, order_by="requester,-id_") == ["t3", "t1", "t2"]


async def test_tasks_order_by_label_value(client: Client, tasks: None) -> None:
    assert await _ids(client, order_by="-label=zone,id") == ["t2", "t1", "t3"]


@pytest.mark.parametrize(
    "order_by",
    ["", "-id", "requester", "-requester", "unix_millis_finish_time", "-unix_millis_start_time"],
)
async def test_tasks_keyset_pages_are_the_offset_pages(
    client: Client, hub: FakeHub, order_by: str
) -> None:
    # Ties and missing values (no requester, not finished) across page boundaries.
    for n in range(7):
        await hub.task(
            f"k{n}",
            requester=None if n % 3 == 0 else f"user{n % 2}",
            start=1000 * (n % 2),
            finish=None if n % 2 else 100 * n,
        )
    paged = await _keyset_pages(client, order_by=order_by)

    assert paged == await _ids(client, order_by=order_by)


async def test_tasks_list_is_stamped_with_the_position_read_first(
    client: Client, hub: FakeHub, tasks: None
) -> None:
    last = await hub.publish("/fleets/f/state", {"name": "f"})

    response = await client.get("/tasks")

    assert position(response) == (last.seq, EPOCH)


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": "0"}, ["query", "limit"]),
        ({"limit": "1001"}, ["query", "limit"]),
        ({"limit": "ten"}, ["query", "limit"]),
        ({"offset": "-1"}, ["query", "offset"]),
        ({"order_by": "-data"}, ["query", "order_by"]),
        ({"order_by": "label="}, ["query", "order_by"]),
        ({"start_time_between": "3000,1000"}, ["query", "start_time_between"]),
        ({"finish_time_between": "soon,later"}, ["query", "finish_time_between"]),
        ({"request_time_between": "1000"}, ["query", "request_time_between"]),
        ({"status": "queued,lost"}, ["query", "status", 1]),
        ({"label": "=north"}, ["query", "label"]),
        ({"after": "t1", "offset": "2"}, ["query", "after"]),
        ({"after": "t1", "order_by": "status,id"}, ["query", "after"]),
        ({"after": "t1", "order_by": "label=zone"}, ["query", "after"]),
        ({"after": "nothing"}, ["query", "after"]),
    ],
    ids=[
        "limit-zero",
        "limit-too-big",
        "limit-not-int",
        "offset-negative",
        "order-by-unknown",
        "order-by-empty-label",
        "range-backwards",
        "range-not-numbers",
        "range-one-end",
        "status-unknown",
        "label-without-name",
        "after-with-offset",
        "after-with-two-orders",
        "after-with-label-order",
        "after-unknown-task",
    ],
)
async def test_tasks_bad_query_is_422_naming_the_field(
    client: Client, params: dict[str, str], loc: list[Any]
) -> None:
    response = await client.get("/tasks", params=params)

    assert response.status == 422
    [error] = (await response.json())["detail"]
    assert error["loc"] == loc
    assert error["msg"]


async def test_task_state_is_the_sticky_value_with_its_seq(client: Client, hub: FakeHub) -> None:
    await hub.task("t1", status="queued")
    latest = await hub.publish("/tasks/t1/state", {"booking": {"id": "t1"}, "status": "underway"})

    response = await client.get("/tasks/t1/state")

    assert (await response.json())["status"] == "underway"
    assert position(response) == (latest.seq, EPOCH)


async def test_task_id_with_a_slash_is_percent_encoded(client: Client, hub: FakeHub) -> None:
    await hub.task("patrol/7")

    response = await client.get("/tasks/patrol%2F7/state")

    assert (await response.json())["booking"]["id"] == "patrol/7"


async def test_unknown_task_is_404(client: Client) -> None:
    state = await client.get("/tasks/nope/state")
    log = await client.get("/tasks/nope/log")

    assert state.status == log.status == 404
    assert "nope" in (await state.json())["detail"]


async def _entry(
    task_id: str, phase: str | None, event: str | None, at: int, text: str
) -> dict[str, Any]:
    await TaskLogEntry.create(
        task_id=task_id,
        phase=phase,
        event=event,
        log_seq=1,
        tier="info",
        unix_millis_time=at,
        text=text,
        seq=1,
    )
    return {"seq": 1, "tier": "info", "unix_millis_time": at, "text": text}


async def test_task_log_between_nests_entries_by_phase_and_event(
    client: Client, hub: FakeHub
) -> None:
    await hub.task("t1")
    task_level = await _entry("t1", None, None, 1000, "queued")
    phase_level = await _entry("t1", "1", None, 1100, "phase 1 begins")
    event_level = await _entry("t1", "1", "0", 1200, "moving")
    await _entry("t1", "1", "1", 9000, "outside the period")
    await _entry("t2", None, None, 1000, "another task")

    response = await client.get("/tasks/t1/log", params={"between": "1000,2000"})

    assert response.status == 200
    assert await response.json() == {
        "task_id": "t1",
        "log": [task_level],
        "phases": {"1": {"log": [phase_level], "events": {"0": [event_level], "1": []}}},
    }


async def test_task_log_with_a_bad_between_is_422(client: Client, hub: FakeHub) -> None:
    await hub.task("t1")

    response = await client.get("/tasks/t1/log", params={"between": "-soon"})

    assert response.status == 422
    assert (await response.json())["detail"][0]["loc"] == ["query", "between"]


@pytest.mark.parametrize("order_by", ["-unix_millis_request_time", "unix_millis_request_time"])
async def test_tasks_of_a_requester_and_category_by_request_time_page_by_keyset(
    client: Client, hub: FakeHub, order_by: str
) -> None:
    # The (requester, category, request time) index's shape: ties, tasks never requested,
    # and other requesters' and categories' tasks between them.
    for n in range(12):
        await hub.task(
            f"r{n:02d}",
            category="patrol" if n % 3 else "clean",
            requester="ann" if n % 4 else "bob",
            requested=None if n % 5 == 0 else 1000 * (n % 4),
        )
    everything = await _ids(client, order_by=order_by, limit="1000")
    mine = set(await _ids(client, category="patrol", limit="1000")) & set(
        await _ids(client, requester="ann", limit="1000")
    )
    paged = await _keyset_pages(client, category="patrol", requester="ann", order_by=order_by)

    assert paged == [task for task in everything if task in mine]


async def _offset_pages(client: Client, **params: Any) -> list[str]:
    """Every task of the query, read two at a time by offset."""
    pages: list[list[str]] = []
    while not pages or len(pages[-1]) == 2:
        pages.append(await _ids(client, limit="2", offset=str(2 * len(pages)), **params))
    return [task for page in pages for task in page]


@pytest.mark.parametrize(
    "order_by", ["", "-id", "unix_millis_request_time", "-unix_millis_request_time"]
)
async def test_label_filtered_pages_are_the_labelled_tasks_in_the_unfiltered_order(
    client: Client, hub: FakeHub, order_by: str
) -> None:
    # The orders read from a label's index: ties, tasks never requested, and tasks
    # without the label between them, across page boundaries.
    carried: dict[str, set[str]] = {}
    for n in range(12):
        task_id = f"l{n:02d}"
        labels = {f"zone={'north' if n % 3 else 'south'}", *(["rush"] if n % 2 else [])}
        status = "queued" if n % 4 else "underway"
        carried[task_id] = {*labels, f"status={status}"}
        await hub.task(
            task_id,
            status=status,
            requested=None if n % 5 == 0 else 1000 * (n % 4),
            labels=tuple(sorted(labels)),
        )
    everything = await _ids(client, order_by=order_by, limit="1000")
    for filters, wanted in (
        ({"label": "zone=north"}, {"zone=north"}),
        ({"label": "zone=north,rush"}, {"zone=north", "rush"}),
        ({"label": "rush", "status": "queued"}, {"rush", "status=queued"}),
    ):
        expected = [task for task in everything if wanted <= carried[task]]
        assert await _ids(client, order_by=order_by, limit="1000", **filters) == expected
        assert await _offset_pages(client, order_by=order_by, **filters) == expected
        assert await _keyset_pages(client, order_by=order_by, **filters) == expected


async def _write_many_tasks(count: int) -> None:
    """``count`` task rows written as the hub upserts them, in a few statements, ids in no
    order: ties and missing values in every time column, over many hours."""
    order = sorted(range(count), key=lambda n: (n * 7919) % count)
    rows = [
        TaskState(
            id=f"m{n:05d}",
            unix_millis_request_time=None if n % 50 == 0 else (n % 300) * 1_800_000,
            unix_millis_start_time=n * 1000,
            unix_millis_finish_time=None if n % 3 == 0 else (n % 40) * 3_600_000,
            data=f'{{"booking": {{"id": "m{n:05d}"}}}}',
            seq=n,
        )
        for n in order
    ]
    for chunk in range(0, count, 900):
        await TaskState.bulk_create(rows[chunk : chunk + 900])


@pytest.mark.parametrize(
    "order_by",
    [
        "",
        "-id",
        "unix_millis_request_time",
        "-unix_millis_request_time",
        "unix_millis_finish_time",
        "-unix_millis_finish_time",
        "-unix_millis_start_time",
    ],
)
async def test_offset_pages_deep_in_the_whole_list_are_the_plain_offset_pages(
    client: Client, order_by: str
) -> None:
    # Enough tasks that the counted runs of ids split (PostgreSQL), then tasks moved in
    # time and removed, as the hub and retention do.
    await _write_many_tasks(2600)
    await TaskState.filter(id__startswith="m001").update(unix_millis_finish_time=7_200_000)
    await TaskState.filter(id__startswith="m002").delete()
    terms = [order_by or "id", "id"] if order_by not in ("", "-id") else [order_by or "id"]
    listed = [task_id for (task_id,) in await TaskState.all().order_by(*terms).values_list("id")]

    for offset in (1, 7, 999, 1000, 1001, 1499, 1500, 1995, 2001, len(listed) - 3, len(listed)):
        page = await _ids(client, order_by=order_by, offset=str(offset), limit="7")
        assert page == listed[offset : offset + 7], offset


@pytest.mark.parametrize("order_by", ["label=zone", "-label=zone"])
async def test_pages_in_a_labels_order_are_the_pages_of_the_full_sort(
    client: Client, hub: FakeHub, order_by: str
) -> None:
    # Ties in the label's value and tasks without the label, across page boundaries; a
    # second key (the id, which breaks ties anyway) makes the reference sort every task.
    for n in range(11):
        zone = () if n % 3 == 0 else (f"zone={'north' if n % 3 == 1 else 'south'}",)
        await hub.task(
            f"s{(n * 7) % 11:02d}", status="queued" if n % 2 else "underway", labels=zone
        )
    for filters in ({}, {"status": "queued"}):
        expected = await _ids(client, order_by=f"{order_by},id", limit="1000", **filters)
        assert await _offset_pages(client, order_by=order_by, **filters) == expected
