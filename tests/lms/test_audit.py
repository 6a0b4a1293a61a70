"""Every state-changing operation writes one audit record; the log cannot be changed."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from lms import api
from lms.audit import reset_client_ip, set_client_ip
from lms.models import AuditLog, Organisation, Role


def test_operations_are_audited_with_actor_and_ip(regions, make_person):
    admin = make_person(regions["hz"], roles=(), admin_of=regions["hz"])
    token = set_client_ip("10.1.2.3")
    try:
        person = api.create_person(admin, username="p1", real_name="王五", region=regions["xihu"],
                                   phone="13800138000")
        api.assign_role(admin, person, Role.INSTRUCTOR)
        api.update_person_contact(admin, person, phone="13900139000")
        org = api.create_organisation(admin, name="基地", kind=Organisation.Kind.TRAINING_BASE, region=regions["xihu"])
    finally:
        reset_client_ip(token)
    records = list(AuditLog.objects.filter(actor=admin).order_by("id"))
    assert [r.action for r in records] == ["person.create", "role.assign", "person.update_contact",
                                           "organisation.create"]
    assert all(r.ip == "10.1.2.3" for r in records)
    update = records[2]
    assert update.before["phone"] == "138****8000" and update.after["phone"] == "139****9000"
    assert "13900139000" not in str(update.after)  # never the clear number
    assert records[3].object_id == str(org.pk)


def test_audit_records_cannot_be_changed_or_deleted(regions, make_person):
    make_person(regions["xihu"])
    record = AuditLog.objects.first()
    record.action = "forged"
    with pytest.raises(PermissionDenied):
        record.save()
    with pytest.raises(PermissionDenied):
        record.delete()
    with pytest.raises(PermissionDenied):
        AuditLog.objects.filter(pk=record.pk).update(action="forged")
    with pytest.raises(PermissionDenied):
        AuditLog.objects.all().delete()
    assert AuditLog.objects.get(pk=record.pk).action == "person.create"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database trigger exists on PostgreSQL")
def test_postgresql_refuses_raw_updates(regions, make_person):
    from django.db import DatabaseError

    make_person(regions["xihu"])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE lms_auditlog SET action = 'forged'")
    assert not AuditLog.objects.filter(action="forged").exists()


def test_rejected_input_writes_no_audit_and_no_row(regions, make_person):
    from django.core.exceptions import ValidationError
    from lms.models import User

    admin = make_person(regions["hz"], roles=(), admin_of=regions["hz"])
    before = (User.objects.count(), AuditLog.objects.count())
    with pytest.raises(ValidationError):
        api.create_person(admin, username="bad", real_name="坏数据", region=regions["xihu"], phone="123")
    assert (User.objects.count(), AuditLog.objects.count()) == before


def test_sign_in_out_and_failures_are_audited(regions, make_person, client):
    person = make_person(regions["xihu"], username="audited", password="pw-Secret-123")
    client.post("/login/", {"username": "audited", "password": "wrong"})
    client.post("/login/", {"username": "audited", "password": "pw-Secret-123"})
    client.post("/logout/")
    actions = list(AuditLog.objects.filter(action__startswith="auth.").order_by("id").values_list("action", "actor"))
    assert actions == [("auth.login_failed", None), ("auth.login", person.pk), ("auth.logout", person.pk)]
    failed = AuditLog.objects.get(action="auth.login_failed")
    assert failed.object_repr == "audited" and "wrong" not in str(failed.after)
