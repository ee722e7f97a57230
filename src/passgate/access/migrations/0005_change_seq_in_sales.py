"""The change sequence moved to sales (sales.ChangeCounter, stamped on tickets too): carry each
organisation's access sequence over, so the change log's numbers keep growing and no device
cursor (seq, id) goes backwards. access.ChangeCounter keeps only `pruned_through`."""

from django.db import migrations


def carry_counters(apps, schema_editor):
    AccessCounter = apps.get_model("access", "ChangeCounter")
    SalesCounter = apps.get_model("sales", "ChangeCounter")
    for org_id, last_seq in AccessCounter.objects.values_list("organisation_id", "last_seq"):
        counter, _ = SalesCounter.objects.get_or_create(organisation_id=org_id, defaults={"last_seq": 0})
        if counter.last_seq < last_seq:
            SalesCounter.objects.filter(pk=counter.pk).update(last_seq=last_seq)


class Migration(migrations.Migration):

    dependencies = [
        ("access", "0004_sector_interface"),
        ("sales", "0002_change_seq"),
    ]

    operations = [migrations.RunPython(carry_counters, migrations.RunPython.noop)]
