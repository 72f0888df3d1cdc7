"""The sending engine end to end on the database: claims, batches, answers, recovery."""

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, update

from app.contacts.service import set_opt_out
from app.extensions import db
from app.messaging import service as campaigns
from app.messaging.models import Campaign
from app.sending import service as sending
from app.sending.leases import begin_lease, reap_expired_leases, renew_lease
from app.sending.models import Message, Process, ProviderAccount
from app.sending.providers.base import (
    Accepted,
    ErrorCode,
    MaybeSent,
    NotSent,
    Rejected,
    StatusUpdate,
)
from app.types import utcnow


def messages(campaign) -> list[Message]:
    db.session.expire_all()
    return db.session.scalars(
        select(Message).where(Message.campaign_id == campaign.id).order_by(Message.id)
    ).all()


def statuses(campaign) -> list[str]:
    return [m.status for m in messages(campaign)]


def dispatch(limit=100) -> int:
    dispatcher = sending.Dispatcher(concurrency=4)
    try:
        return dispatcher.dispatch(limit)
    finally:
        dispatcher.close()


@contextmanager
def running(app, dispatcher, idle_seconds: float):
    """``dispatcher.run`` in a thread of its own until the block ends, then stopped;
    yields a list that receives how many messages it claimed."""
    stop = threading.Event()
    claimed: list[int] = []

    def run():
        with app.app_context():
            claimed.append(dispatcher.run(stop, idle_seconds=idle_seconds))

    runner = threading.Thread(target=run)
    runner.start()
    try:
        yield claimed
    finally:
        stop.set()
        runner.join()


def claim(limit: int, worker_id: int) -> list:
    return sending.claim_queued(limit, utcnow(), sending.load_policy(), worker_id)


def test_personalised_texts_go_per_recipient_within_the_provider_limit(started_campaign, scripted):
    campaign, _contacts = started_campaign(names=("علی", "مریم", "رضا", "سارا", "نگار"))
    assert statuses(campaign) == ["queued"] * 5

    assert dispatch() == 5

    assert sorted(len(call) for call in scripted.calls) == [1, 2, 2]  # max_p2p = 2
    sent = messages(campaign)
    assert [m.status for m in sent] == ["sent"] * 5
    assert [m.provider_ref for m in sent] == [f"ref-{m.id}" for m in sent]
    assert sent[0].body == "سلام علی\nلغو۱۱"


def test_one_text_for_everyone_goes_in_bulk_calls(started_campaign, scripted):
    campaign, _ = started_campaign(names=("a", "b", "c", "d", "e"), body="حراج یلدا")

    dispatch()

    assert sorted(len(call) for call in scripted.calls) == [2, 3]  # max_batch = 3
    assert all(len({m.body for m in call}) == 1 for call in scripted.calls)
    assert statuses(campaign) == ["sent"] * 5


def test_delivery_reports_move_sent_messages_to_their_final_state(started_campaign, scripted):
    campaign, contacts = started_campaign()
    dispatch()
    first, second, third = messages(campaign)
    scripted.delivery = {first.provider_ref: "delivered", second.provider_ref: "failed"}

    changed = sending.poll_delivery(100, first_after=timedelta(0), every=timedelta(0))

    assert changed == 2
    assert statuses(campaign) == ["delivered", "failed", "sent"]
    assert messages(campaign)[0].done_at is not None


def test_the_database_stays_writable_while_a_provider_is_asked_for_reports(
    started_campaign, scripted, monkeypatch
):
    # SQLite takes one writer at a time: a delivery poll holding the write lock while a
    # slow provider answers would stop the dispatcher and the outbox for that long.
    campaign, _ = started_campaign()
    dispatch()

    def answering_after_a_write(self, refs):
        with db.engine.connect() as other:  # as another thread, the dispatcher, would
            sqlite = other.dialect.name == "sqlite"
            if sqlite:
                other.exec_driver_sql("PRAGMA busy_timeout=100")
            other.execute(
                update(Campaign).where(Campaign.id == campaign.id).values(name="meanwhile")
            )
            other.commit()
            if sqlite:
                other.exec_driver_sql("PRAGMA busy_timeout=30000")
        return [StatusUpdate(ref, "delivered") for ref in refs]

    monkeypatch.setattr(scripted, "statuses", answering_after_a_write)

    assert sending.poll_delivery(100, first_after=timedelta(0), every=timedelta(0)) == 3
    assert statuses(campaign) == ["delivered"] * 3
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).name == "meanwhile"


def test_a_refused_request_is_queued_again_with_backoff(started_campaign, scripted):
    campaign, _ = started_campaign(names=("علی",))
    scripted.answers.append(NotSent(ErrorCode.BUSY, "HTTP 503"))

    dispatch()

    (message,) = messages(campaign)
    assert message.status == "queued"
    assert message.attempts == 1
    assert message.next_attempt_at > utcnow()
    assert dispatch() == 0, "not before its next attempt"
    with time_machine.travel(utcnow() + timedelta(seconds=3)):
        assert dispatch() == 1
    assert statuses(campaign) == ["sent"]
    assert db.session.get(ProviderAccount, scripted.account.id).failures == 0


def test_retry_after_from_the_provider_sets_the_wait(started_campaign, scripted):
    campaign, _ = started_campaign(names=("علی",))
    scripted.answers.append(NotSent(ErrorCode.RATE_LIMITED, "HTTP 429", retry_after=60))
    before = utcnow()

    dispatch()

    (message,) = messages(campaign)
    assert message.next_attempt_at >= before + timedelta(seconds=60)
    assert message.error == "rate_limited"


def test_an_uncertain_request_is_never_sent_again_automatically(started_campaign, scripted):
    campaign, _ = started_campaign(names=("علی", "مریم"))
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))

    dispatch()
    assert statuses(campaign) == ["unknown", "unknown"]
    assert dispatch() == 0
    assert len(scripted.calls) == 1


def test_the_owner_can_retry_unknown_messages(started_campaign, scripted):
    campaign, _ = started_campaign(names=("علی",))
    scripted.answers.append(MaybeSent(ErrorCode.PROVIDER_ERROR, "HTTP 500"))
    dispatch()

    assert sending.retry_unknown(campaign.id) == 1
    db.session.commit()
    dispatch()

    assert statuses(campaign) == ["sent"]
    assert len(scripted.calls) == 2


def test_a_partial_answer_is_recorded_message_by_message(started_campaign, scripted):
    campaign, _ = started_campaign(names=("a", "b", "c"), body="حراج")

    def partial(batch):
        return [
            Accepted(batch[0].local_id, "ok-1"),
            Rejected(batch[1].local_id, ErrorCode.INVALID_NUMBER, "411"),
        ]

    scripted.answers.append(partial)
    dispatch()

    assert statuses(campaign) == ["sent", "rejected", "unknown"]
    _, rejected, unanswered = messages(campaign)
    assert (rejected.error, rejected.error_detail) == ("invalid_number", "411")
    assert unanswered.error == "no_answer"


def test_a_bad_key_pauses_the_campaign_with_its_reason(started_campaign, scripted):
    campaign, _ = started_campaign(names=("a", "b", "c", "d"), body="حراج")
    # Two bulk requests (3 + 1) are in flight; the provider refuses both.
    scripted.answers.extend([NotSent(ErrorCode.BAD_KEY, "403"), NotSent(ErrorCode.BAD_KEY, "403")])

    dispatch()

    # The engine marks the account; the scheduler's job pauses its campaigns.
    account = db.session.get(ProviderAccount, scripted.account.id)
    assert (account.last_error, account.failing_since is not None) == ("bad_key", True)
    assert campaigns.pause_campaigns_of_failing_accounts() == 1
    db.session.refresh(campaign)
    assert campaign.status == "paused"
    assert campaign.paused_reason == "bad_key"
    assert set(statuses(campaign)) == {"held"}
    with time_machine.travel(utcnow() + timedelta(minutes=10)):
        assert dispatch() == 0

    campaigns.resume_campaign(campaign)
    db.session.commit()
    dispatch()
    assert set(statuses(campaign)) == {"sent"}


def test_a_provider_that_keeps_failing_pauses_its_campaigns(started_campaign, scripted):
    campaign, _ = started_campaign(names=("علی",))
    moment = utcnow()
    for _attempt in range(sending.MAX_FAILURES):
        scripted.answers.append(NotSent(ErrorCode.BUSY, "connection refused"))
        with time_machine.travel(moment):
            dispatch()
            campaigns.pause_campaigns_of_failing_accounts()
        moment += timedelta(seconds=sending.MAX_BACKOFF_SECONDS + 1)

    db.session.refresh(campaign)
    assert campaign.status == "paused"
    assert campaign.paused_reason == "busy"
    assert len(scripted.calls) == sending.MAX_FAILURES


def test_blocked_numbers_and_blacklist_reports_opt_the_contact_out(started_campaign, scripted):
    campaign, (ali, maryam, reza) = started_campaign(body="حراج")

    def first_blocked(batch):
        return [Rejected(batch[0].local_id, ErrorCode.BLOCKED, "blacklist")] + [
            Accepted(m.local_id, f"ref-{m.local_id}") for m in batch[1:]
        ]

    scripted.answers.append(first_blocked)
    dispatch()
    _, second, _ = messages(campaign)
    scripted.delivery = {second.provider_ref: "blacklisted"}
    sending.poll_delivery(100, first_after=timedelta(0), every=timedelta(0))

    db.session.expire_all()
    assert ali.opted_out_at is not None
    assert maryam.opted_out_at is not None
    assert reza.opted_out_at is None


def test_opted_out_contacts_never_get_marketing(started_campaign, scripted, make_contact):
    out = make_contact("09350000001", first_name="قبلاً لغو کرده")
    set_opt_out(out.mobile, True, "manual", "")
    db.session.commit()
    campaign, (ali, *_rest) = started_campaign()
    # Ali opts out after the messages were written but before they leave.
    set_opt_out(ali.mobile, True, "reply", "۱۱")
    db.session.commit()

    dispatch()

    by_contact = {m.contact_id: m for m in messages(campaign)}
    assert (by_contact[out.id].status, by_contact[out.id].error) == ("skipped", "opted_out")
    assert (by_contact[ali.id].status, by_contact[ali.id].error) == ("skipped", "opted_out")
    sent_to = {m.mobile for call in scripted.calls for m in call}
    assert out.mobile not in sent_to and ali.mobile not in sent_to
    assert len(sent_to) == 2


def test_cancelling_stops_what_has_not_left(started_campaign, scripted):
    campaign, _ = started_campaign()

    assert campaigns.cancel_campaign(campaign) == 3
    db.session.commit()

    assert dispatch() == 0
    assert statuses(campaign) == ["cancelled"] * 3
    assert db.session.get(Campaign, campaign.id).status == "cancelled"


def test_pause_holds_and_resume_releases(started_campaign, scripted):
    campaign, _ = started_campaign()
    campaigns.pause_campaign(campaign)
    db.session.commit()
    assert dispatch() == 0
    campaigns.resume_campaign(campaign)
    db.session.commit()
    assert dispatch() == 3
    campaigns.finish_campaigns()
    assert db.session.get(Campaign, campaign.id).status == "done"


def test_a_dead_workers_unsent_claim_stays_queued_and_only_its_request_in_flight_is_unknown(
    started_campaign, scripted
):
    campaign, _ = started_campaign()  # three texts: two calls of at most two
    leased_at = utcnow()  # the lease runs at least 30 s from here, however slow the machine
    dead = begin_lease("worker", timedelta(seconds=30))
    claimed = claim(10, dead)
    accounts = {scripted.account.id: db.session.get(ProviderAccount, scripted.account.id)}
    first_call, _second_call = sending.plan_calls(claimed, accounts, dead)
    # The worker handed its first request over, then died before any answer.
    sending.hand_over([first_call])
    db.session.commit()
    assert len(first_call.messages) == 2
    assert statuses(campaign) == ["sending", "sending", "queued"]

    with time_machine.travel(leased_at + timedelta(seconds=29)):
        assert reap_expired_leases() == 0
    assert statuses(campaign) == ["sending", "sending", "queued"]
    with time_machine.travel(utcnow() + timedelta(seconds=31)):
        assert reap_expired_leases() == 1
        assert reap_expired_leases() == 0, "a lease is retired once"

    assert statuses(campaign) == ["unknown", "unknown", "queued"]
    assert messages(campaign)[0].error == "dispatcher_stopped"
    assert dispatch() == 1
    assert statuses(campaign) == ["unknown", "unknown", "sent"]
    assert [[m.local_id for m in call] for call in scripted.calls] == [[messages(campaign)[2].id]]


def test_a_worker_too_slow_to_renew_sends_nothing_that_went_back(started_campaign, scripted):
    campaign, _ = started_campaign(names=("علی",))
    slow = begin_lease("worker", timedelta(seconds=30))
    accounts = {scripted.account.id: db.session.get(ProviderAccount, scripted.account.id)}
    (call,) = sending.plan_calls(claim(10, slow), accounts, slow)

    with time_machine.travel(utcnow() + timedelta(seconds=31)):
        assert reap_expired_leases() == 1
        assert renew_lease(slow, timedelta(seconds=30)) is False
        other = begin_lease("worker", timedelta(seconds=30))
        assert [m.id for m in claim(10, other)] == [call.messages[0].local_id]

    sending.hand_over([call])
    assert call.messages == [], "the slow worker may not send it any more"


def test_a_lease_renewed_in_time_keeps_its_requests_in_flight(started_campaign, scripted):
    campaign, _ = started_campaign()
    alive = begin_lease("worker", timedelta(seconds=30))
    accounts = {scripted.account.id: db.session.get(ProviderAccount, scripted.account.id)}
    sending.hand_over(sending.plan_calls(claim(10, alive), accounts, alive))
    db.session.commit()
    moment = utcnow()
    for _beat in range(4):
        moment += timedelta(seconds=20)
        with time_machine.travel(moment):
            assert renew_lease(alive, timedelta(seconds=30))
            assert reap_expired_leases() == 0
    assert statuses(campaign) == ["sending"] * 3


def test_a_worker_that_stops_puts_its_unsent_claim_back(started_campaign, scripted):
    campaign, _ = started_campaign()
    dispatcher = sending.Dispatcher(concurrency=1)
    lease = dispatcher.lease.id
    claim(10, lease)
    dispatcher.close()

    assert statuses(campaign) == ["queued"] * 3
    assert db.session.get(Process, lease) is None
    assert scripted.calls == []


def test_two_processes_noticing_one_expiry_retire_it_once(app, started_campaign, scripted):
    campaign, _ = started_campaign(names=[f"n{i}" for i in range(6)])
    dead = begin_lease("worker", timedelta(seconds=1))
    claim(10, dead)
    later = utcnow() + timedelta(seconds=5)
    retired = []

    def notice():
        with app.app_context():
            retired.append(reap_expired_leases(later))
            db.session.remove()

    threads = [threading.Thread(target=notice) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(retired) == [0, 0, 0, 1]
    assert statuses(campaign) == ["queued"] * 6


def test_one_send_thread_takes_each_call_in_turn(app, started_campaign, scripted):
    # Five texts, three calls of at most two: each answer frees the only thread for the
    # next call, in the same round that records it.
    campaign, _ = started_campaign(names=("علی", "مریم", "رضا", "سارا", "نگار"))
    dispatcher = sending.Dispatcher(concurrency=1)
    claimed = []

    def run():
        with app.app_context():
            claimed.append(dispatcher.dispatch(100))

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    runner.join(timeout=30)
    dispatcher.close()

    assert claimed == [5], "the dispatcher finished every call"
    assert [len(call) for call in scripted.calls] == [2, 2, 1]
    assert statuses(campaign) == ["sent"] * 5


def test_requests_are_handed_over_before_they_leave(started_campaign, scripted):
    campaign, _ = started_campaign(body="حراج")
    seen = []

    def look(batch):
        ids = [m.local_id for m in batch]
        seen.extend(
            db.session.execute(
                select(Message.status, Message.handed_over_at.is_not(None)).where(
                    Message.id.in_(ids)
                )
            ).all()
        )
        return [Accepted(i, f"ref-{i}") for i in ids]

    scripted.answers.append(look)
    dispatch()

    assert seen == [("sending", True)] * 3
    assert statuses(campaign) == ["sent"] * 3


def test_answers_written_in_a_round_that_fails_are_not_kept(started_campaign, scripted):
    # A round writes the answers that arrived and hands the next requests over in one
    # transaction: if the hand-over fails, the answers wait for the next round.
    campaign, _ = started_campaign(names=("علی", "مریم"))
    worker = begin_lease("worker", timedelta(seconds=30))
    accounts = {scripted.account.id: db.session.get(ProviderAccount, scripted.account.id)}
    (call,) = sending.plan_calls(claim(10, worker), accounts, worker)
    sending.hand_over([call])
    db.session.commit()

    sending.record_answers([(call, [Accepted(m.local_id, "ref") for m in call.messages])])
    db.session.rollback()  # what the round does when its hand-over fails

    assert statuses(campaign) == ["sending"] * 2


def test_a_slow_request_does_not_hold_up_the_others(app, started_campaign, scripted):
    campaign, _ = started_campaign(names=[f"n{i}" for i in range(8)])  # four calls of two
    slow = threading.Event()

    def answer_late(batch):
        slow.wait(30)
        return [Accepted(m.local_id, f"ref-{m.local_id}") for m in batch]

    scripted.answers.append(answer_late)
    dispatcher = sending.Dispatcher(concurrency=2, batch=4)
    with running(app, dispatcher, idle_seconds=0.1):
        try:
            # While the first request waits for its answer, the other thread sends the
            # rest, claiming ahead, and each answer is written as it comes.
            deadline = time.monotonic() + 30
            while statuses(campaign).count("sent") < 6 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sorted(statuses(campaign)) == ["sending"] * 2 + ["sent"] * 6
            assert all(m.handed_over_at for m in messages(campaign) if m.status == "sending")
        finally:
            slow.set()
    dispatcher.close()
    assert statuses(campaign) == ["sent"] * 8


def test_an_idle_dispatcher_sends_an_outbox_this_process_writes_at_once(
    app, started_campaign, scripted
):
    # As under `vafa run`: the worker found nothing and would look again in an hour;
    # the scheduler's job then writes a campaign's outbox in the same process.
    dispatcher = sending.Dispatcher(concurrency=2)
    with running(app, dispatcher, idle_seconds=3600) as claimed:
        campaign, _ = started_campaign()
        deadline = time.monotonic() + 30
        while statuses(campaign) != ["sent"] * 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    dispatcher.close()
    assert statuses(campaign) == ["sent"] * 3
    assert claimed == [3], "it stopped within moments, idle"


def test_a_stopping_dispatcher_that_cannot_write_its_last_answers_still_ends_its_lease(
    app, started_campaign, scripted, monkeypatch
):
    campaign, _ = started_campaign(names=("علی",))
    answer_now = threading.Event()

    def answer_late(batch):
        answer_now.wait(30)
        return [Accepted(m.local_id, f"ref-{m.local_id}") for m in batch]

    scripted.answers.append(answer_late)
    dispatcher = sending.Dispatcher(concurrency=1)
    lease = dispatcher.lease.id
    with running(app, dispatcher, idle_seconds=0.05):
        deadline = time.monotonic() + 30
        while not scripted.calls and time.monotonic() < deadline:
            time.sleep(0.02)

    def database_gone(_answers):
        raise OSError("the database went away")

    monkeypatch.setattr(sending, "record_answers", database_gone)
    answer_now.set()
    with pytest.raises(OSError):
        dispatcher.close()  # the failure is not hidden

    assert db.session.get(Process, lease) is None
    assert statuses(campaign) == ["unknown"], "handed over, its answer lost: to reconcile"


def test_a_worker_claiming_ahead_never_reads_again_what_it_holds(started_campaign, scripted):
    started_campaign(names=[f"n{i}" for i in range(5)])
    dispatcher = sending.Dispatcher(concurrency=1, batch=2)
    try:
        assert [dispatcher._claim(2) for _ in range(4)] == [2, 2, 1, 0]
        held = [m.local_id for call in dispatcher._held for m in call.messages]
    finally:
        dispatcher.close()
    assert sorted(held) == db.session.scalars(select(Message.id).order_by(Message.id)).all()


def test_live_workers_read_their_own_share_of_the_queue_first(started_campaign, scripted):
    started_campaign(names=[f"n{i}" for i in range(7)])
    workers = [begin_lease("worker", timedelta(seconds=30)) for _ in range(2)]
    first, second = (claim(3, worker) for worker in workers)
    assert {m.id for m in first}.isdisjoint({m.id for m in second})
    # A share that runs short is filled from the others': no worker waits for another.
    assert len(claim(7, workers[0])) == 7


def test_a_message_two_workers_claimed_is_handed_over_by_one_only(started_campaign, scripted):
    started_campaign(names=[f"n{i}" for i in range(7)])
    accounts = {scripted.account.id: db.session.get(ProviderAccount, scripted.account.id)}
    alone = begin_lease("worker", timedelta(seconds=30))
    early = sending.plan_calls(claim(10, alone), accounts, alone)  # all seven, as it was alone
    joined = begin_lease("worker", timedelta(seconds=30))
    late = sending.plan_calls(claim(10, joined), accounts, joined)  # the same seven
    sending.hand_over(early[:1])  # a call of two
    sending.hand_over(late)
    sending.hand_over(early[1:])
    db.session.commit()

    assert [len(call.messages) for call in early] == [2, 0, 0, 0]
    assert sum(len(call.messages) for call in late) == 5
    taken = [m.local_id for call in (*early, *late) for m in call.messages]
    assert sorted(taken) == db.session.scalars(select(Message.id).order_by(Message.id)).all()
    by_worker = dict(
        db.session.execute(
            select(Message.worker_id, func.count()).group_by(Message.worker_id)
        ).all()
    )
    assert by_worker == {alone: 2, joined: 5}


def test_the_rate_limit_spaces_requests_for_every_worker(scripted, time_machine):
    account = db.session.get(ProviderAccount, scripted.account.id)
    account.requests_per_second = 4
    db.session.commit()
    time_machine.move_to(datetime(2026, 11, 23, 10, 0, tzinfo=UTC), tick=False)

    # Three workers ask at the same moment: the first goes now, the second a quarter of
    # a second later; the third may not book further ahead, and asks again then.
    assert sending.take_slot(account.id) == (True, 0)
    db.session.commit()
    assert sending.take_slot(account.id) == (True, 0.25)
    db.session.commit()
    assert sending.take_slot(account.id) == (False, 0.25)
    db.session.expire_all()
    booked = db.session.get(ProviderAccount, account.id).next_request_at
    assert booked == datetime(2026, 11, 23, 10, 0, 0, 500000, tzinfo=UTC)

    time_machine.shift(timedelta(seconds=0.3))
    assert sending.take_slot(account.id) == (True, 0.2)


def test_a_round_books_the_slots_of_several_requests_at_once(scripted, time_machine):
    account = db.session.get(ProviderAccount, scripted.account.id)
    account.requests_per_second = 100
    db.session.commit()
    time_machine.move_to(datetime(2026, 11, 23, 10, 0, tzinfo=UTC), tick=False)

    # Five wanted, 10 ms apart: only those within 25 ms of now are booked.
    assert sending.take_slots(account.id, 5, ahead=0.025) == ([0, 0.01, 0.02], 0)
    db.session.commit()
    db.session.expire_all()
    booked = db.session.get(ProviderAccount, account.id).next_request_at
    assert booked == datetime(2026, 11, 23, 10, 0, 0, 30000, tzinfo=UTC)
    # Another worker asking now gets nothing until the booked ones are near.
    assert sending.take_slots(account.id, 5, ahead=0.025) == ([], pytest.approx(0.005))


def test_a_request_refused_for_an_unnamed_bad_number_is_split(started_campaign, scripted):
    campaign, (_ali, maryam, _reza) = started_campaign(names=("a", "b", "c"), body="حراج")
    bad_number = maryam.mobile  # read here: the provider runs in the dispatcher's threads

    def refuse_batches_with_maryam(batch):
        if any(m.mobile == bad_number for m in batch):
            if len(batch) > 1:
                raise NotSent(ErrorCode.INVALID_NUMBER, "411")
            return [Rejected(batch[0].local_id, ErrorCode.INVALID_NUMBER, "411")]
        return [Accepted(m.local_id, f"ref-{m.local_id}") for m in batch]

    scripted.answers.extend([refuse_batches_with_maryam] * 4)
    dispatch()
    dispatch()

    assert statuses(campaign) == ["sent", "rejected", "sent"]
    assert [len(call) for call in scripted.calls] == [3, 1, 1, 1]
    assert db.session.get(ProviderAccount, scripted.account.id).failures == 0


def test_retrying_unknown_messages_respects_pause_and_cancel(started_campaign, scripted):
    campaign, _ = started_campaign(names=("علی", "مریم"))
    scripted.answers.append(MaybeSent(ErrorCode.BUSY, "no answer in time"))
    dispatch()
    campaigns.pause_campaign(campaign)

    assert campaigns.retry_unknown_messages(campaign) == 2
    db.session.commit()
    assert statuses(campaign) == ["held", "held"]
    assert dispatch() == 0

    campaigns.cancel_campaign(campaign)
    db.session.commit()
    assert statuses(campaign) == ["cancelled", "cancelled"]
    assert campaigns.retry_unknown_messages(campaign) == 0


def test_pause_or_cancel_while_messages_are_written_holds_for_all(
    scripted, make_contact, monkeypatch
):
    for i in range(5):
        make_contact(f"0912000000{i}", first_name=f"n{i}")
    monkeypatch.setattr(campaigns, "MATERIALISE_CHUNK", 2)
    paused = campaigns.create_campaign(
        name="p",
        body="سلام",
        list_id=None,
        provider_id=scripted.account.id,
        sender="3000123",
        scheduled_at=None,
        created_by_id=None,
    )
    campaigns.confirm_campaign(paused)
    db.session.commit()

    real_recently = campaigns._recently_messaged
    chunks = []

    def owner_acts_after_first_chunk(ids, policy):
        chunks.append(ids)
        if len(chunks) == 2:  # the first chunk is written; the owner pauses now
            campaigns.pause_campaign(db.session.get(Campaign, paused.id))
            db.session.commit()
        return real_recently(ids, policy)

    monkeypatch.setattr(campaigns, "_recently_messaged", owner_acts_after_first_chunk)
    campaigns.start_due_campaigns()

    assert db.session.get(Campaign, paused.id).status == "paused"
    assert statuses(paused) == ["held"] * 5
    assert dispatch() == 0


def test_a_campaign_whose_list_was_deleted_goes_to_nobody(scripted, make_contact):
    from app.contacts.service import add_to_list, find_or_create_list

    ali = make_contact("09121234567", first_name="علی")
    make_contact("09351112233", first_name="سارا")
    vip = find_or_create_list("VIP")
    add_to_list(vip.id, [ali.id])
    campaign = campaigns.create_campaign(
        name="VIP",
        body="سلام",
        list_id=vip.id,
        provider_id=scripted.account.id,
        sender="3000123",
        scheduled_at=None,
        created_by_id=None,
    )
    campaigns.confirm_campaign(campaign)
    db.session.delete(vip)
    db.session.commit()

    campaigns.start_due_campaigns()

    assert messages(campaign) == []
    db.session.refresh(campaign)
    assert campaign.to_everyone is False
    assert [(entry.list_id, entry.name) for entry in campaign.audience] == [(None, "VIP")]


def test_a_message_without_a_delivery_report_for_days_expires(started_campaign, scripted):
    campaign, _ = started_campaign(names=("علی",))
    dispatch()  # sent; the provider never reports on it

    with time_machine.travel(utcnow() + timedelta(days=3, minutes=1)):
        sending.poll_delivery(100, first_after=timedelta(0), every=timedelta(0))

    (message,) = messages(campaign)
    assert (message.status, message.error_detail) == ("expired", "no delivery report")
    assert message.done_at is not None
