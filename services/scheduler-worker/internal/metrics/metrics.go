// Package metrics owns the worker's Prometheus registry: the Temporal SDK's
// metrics (through OpenTelemetry, as the SDK's tally bridge is not
// available), the Go runtime's, and a build-info gauge.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// BuildInfoName is the build-info gauge, 1 with the build as labels.
const BuildInfoName = "scheduler_worker_build_info"

// Metrics is the registry and the handler the Temporal client reports to.
type Metrics struct {
	registry *prometheus.Registry
	provider *sdkmetric.MeterProvider
	temporal client.MetricsHandler
}

// New builds the registry. log receives metric recording errors (the SDK
// bridge panics on them by default).
func New(sha, buildTS string, log *slog.Logger) (*Metrics, error) {
	reg := prometheus.NewRegistry()
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: BuildInfoName,
		Help: "Always 1; the labels say which build is running.",
	}, []string{"sha", "build_ts", "go_version"})
	buildInfo.WithLabelValues(sha, buildTS, runtime.Version()).Set(1)
	if err := reg.Register(buildInfo); err != nil {
		return nil, fmt.Errorf("registering %s: %w", BuildInfoName, err)
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("registering Go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("registering process collector: %w", err)
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("creating the Prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	th := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter("temporal-sdk-go"),
		OnError:              func(err error) { log.Warn("recording a Temporal metric", "error", err) },
		UseMonotonicCounters: true,
	})
	return &Metrics{registry: reg, provider: provider, temporal: th}, nil
}

// Temporal returns the handler for client.Options.MetricsHandler.
func (m *Metrics) Temporal() client.MetricsHandler { return m.temporal }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Close flushes and stops the OpenTelemetry provider.
func (m *Metrics) Close(ctx context.Context) error {
	if err := m.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutting down metrics: %w", err)
	}
	return nil
}
