"""``manage.py seed_demo_pilots``: the demo plans and pilots (:mod:`pilots.demo`).

Run by ``seed_demo`` (by name: routing never imports pilots). Creates the
plans when none exist and the demo pilots from ``settings.SHARED_DATA_DIR``
when it is present; prints nothing when there was nothing to create.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from pilots.demo import demo_pilots_seed, demo_plans_seed


class Command(BaseCommand):
    help = "Create the demo plans and, from shared/data, the demo pilots (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        demo_plans_seed()
        pilots = demo_pilots_seed(data_dir=settings.SHARED_DATA_DIR, now=timezone.now())
        if pilots:
            self.stdout.write("Demo pilots: " + ", ".join(p.display_name for p in pilots))
