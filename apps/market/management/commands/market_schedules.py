"""Create or update the market's periodic tasks (the simulated price feed) in django-celery-beat."""

from django.core.management.base import BaseCommand

from apps.market.feed import feed_schedule_ensure


class Command(BaseCommand):
    help = "Create/update the 'Simulated price feed' periodic task from PRICE_FEED settings."

    def handle(self, *args, **options):
        task = feed_schedule_ensure()
        state = "enabled" if task.enabled else "disabled (PRICE_FEED is not 'simulated')"
        self.stdout.write(f"{task.name}: every {task.interval}, {state}.")
