"""Exit criteria on TTFT p50, p95 and p99.9 besides p99 (issue 11, §3:
latency quantiles p50..p99.9, e2e and TTFT). Choices only: no data changes."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pilots', '0007_backend_site_foreign_key'),
    ]

    operations = [
        migrations.AlterField(
            model_name='exitcriterion',
            name='metric',
            field=models.CharField(choices=[('e2e_latency_p50', 'End-to-end latency p50'), ('e2e_latency_p95', 'End-to-end latency p95'), ('e2e_latency_p99', 'End-to-end latency p99'), ('e2e_latency_p999', 'End-to-end latency p99.9'), ('ttft_p50', 'Time to first token p50'), ('ttft_p95', 'Time to first token p95'), ('ttft_p99', 'Time to first token p99'), ('ttft_p999', 'Time to first token p99.9'), ('error_rate', 'Error rate'), ('tokens_per_second', 'Generated tokens per second'), ('cost_per_1m_tokens', '$ per 1M tokens'), ('cost_per_inference', '$ per inference'), ('joules_per_token', 'Energy per token (J)'), ('max_temperature', 'Max temperature (°C)'), ('throttle_seconds', 'Throttle time (s)'), ('throttle_events', 'Throttle events')], max_length=30),
        ),
    ]
