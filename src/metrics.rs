//! Prometheus metrics for `GET /metrics`: requests by route and status, connection tests by
//! outcome, store latency, and each data source's last test. One registry per server, so
//! servers in one process (the tests) do not share counts.
//!
//! A data source's series name it by id and type; by alias too only with `[metrics]
//! alias_labels`, since aliases are names people chose and `/metrics` may be public.

use jackal_drivers::{Phase, PhaseRecord, ProbeFailure};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Request latency buckets, seconds: from a cached GET (well under 1 ms) to a connection test
/// that runs into its deadline (10 s by default).
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Store latency buckets, seconds: an indexed read is tens of microseconds, a durable commit a
/// few milliseconds, and the busy timeout is 5 s.
const STORE_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0,
];

#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    http: HistogramVec,
    tests: IntCounterVec,
    tunnelled: IntCounterVec,
    store: HistogramVec,
    protocol_errors: IntCounterVec,
    fleet: FleetGauges,
    alert_deliveries: IntCounterVec,
    alert_backlog: IntGauge,
}

/// Per data source, labelled by id and type (and alias, with `alias_labels`): its last test as
/// this server saw it.
#[derive(Clone, Debug)]
struct FleetGauges {
    up: GaugeVec,
    duration: GaugeVec,
    last_success: GaugeVec,
    alias_labels: bool,
}

/// A data source's labels: id, alias (empty when none) and type.
pub struct DataSourceLabels<'a> {
    pub id: &'a str,
    pub alias: Option<&'a str>,
    pub kind: &'a str,
}

impl FleetGauges {
    fn names(alias_labels: bool) -> &'static [&'static str] {
        if alias_labels {
            &["id", "alias", "type"]
        } else {
            &["id", "type"]
        }
    }

    /// The values of [`FleetGauges::names`] for `labels`.
    fn values<'a>(&self, labels: &DataSourceLabels<'a>) -> Vec<&'a str> {
        if self.alias_labels {
            vec![labels.id, labels.alias.unwrap_or(""), labels.kind]
        } else {
            vec![labels.id, labels.kind]
        }
    }
}

impl Metrics {
    /// The metrics of one server; `alias_labels` as `[metrics] alias_labels`.
    pub fn new(alias_labels: bool) -> Metrics {
        let registry = Registry::new();
        let http = HistogramVec::new(
            HistogramOpts::new(
                "jackal_http_request_duration_seconds",
                "HTTP requests by route pattern, method and status, and how long they took",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let tests = IntCounterVec::new(
            Opts::new(
                "jackal_connection_tests_total",
                "Connection tests by outcome: success, or the errorCode they failed with",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let tunnelled = IntCounterVec::new(
            Opts::new(
                "jackal_tunnelled_tests_total",
                "Connection tests and introspections through an SSH tunnel, by outcome: success, \
                 or the errorCode they failed with (also counted in jackal_connection_tests_total)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let store = HistogramVec::new(
            HistogramOpts::new(
                "jackal_store_operation_duration_seconds",
                "Store operations (read, write), including the wait for a connection",
            )
            .buckets(STORE_BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let protocol_errors = IntCounterVec::new(
            Opts::new(
                "jackal_http_protocol_errors_total",
                "Requests refused before routing because they were not valid HTTP/1.1 (400), \
                 their head was too large (431) or too slow (408), by status",
            ),
            &["status"],
        )
        .expect("valid metric");
        let alert_deliveries = IntCounterVec::new(
            Opts::new(
                "jackal_alert_deliveries_total",
                "Alert deliveries this server attempted, by channel and outcome: delivered, \
                 failed (to be retried) or given_up (after 24 h)",
            ),
            &["channel", "outcome"],
        )
        .expect("valid metric");
        let alert_backlog = IntGauge::new(
            "jackal_alert_outbox_backlog",
            "Alert events waiting for delivery in the store's outbox, as this server's sender \
             last counted them",
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str| {
            GaugeVec::new(Opts::new(name, help), FleetGauges::names(alias_labels))
                .expect("valid metric")
        };
        let fleet = FleetGauges {
            up: gauge(
                "jackal_data_source_up",
                "1 when the data source's last test (by hand, fleet run or introspection) succeeded, 0 when it failed",
            ),
            duration: gauge(
                "jackal_data_source_last_test_duration_seconds",
                "How long the data source's last test took",
            ),
            last_success: gauge(
                "jackal_data_source_last_success_timestamp_seconds",
                "When a test of the data source last succeeded (Unix time)",
            ),
            alias_labels,
        };
        for metric in [
            Box::new(fleet.up.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(fleet.duration.clone()),
            Box::new(fleet.last_success.clone()),
            Box::new(http.clone()),
            Box::new(tests.clone()),
            Box::new(tunnelled.clone()),
            Box::new(store.clone()),
            Box::new(protocol_errors.clone()),
            Box::new(alert_deliveries.clone()),
            Box::new(alert_backlog.clone()),
        ] {
            registry.register(metric).expect("metric names are unique");
        }
        Metrics {
            registry,
            http,
            tests,
            tunnelled,
            store,
            protocol_errors,
            fleet,
            alert_deliveries,
            alert_backlog,
        }
    }

    /// Counts one delivery attempt of an alert to `channel`: `delivered`, `failed` or
    /// `given_up`.
    pub fn count_alert_delivery(&self, channel: &str, outcome: &str) {
        self.alert_deliveries
            .with_label_values(&[channel, outcome])
            .inc();
    }

    /// The outbox's backlog as the sender last counted it.
    pub fn set_alert_backlog(&self, events: i64) {
        self.alert_backlog.set(events);
    }

    /// Sets a data source's series from a test that ended at `at_millis`.
    pub fn data_source_tested(
        &self,
        labels: &DataSourceLabels<'_>,
        ok: bool,
        seconds: f64,
        at_millis: i64,
    ) {
        let values = self.fleet.values(labels);
        self.fleet
            .up
            .with_label_values(&values)
            .set(if ok { 1.0 } else { 0.0 });
        self.fleet.duration.with_label_values(&values).set(seconds);
        if ok {
            self.fleet
                .last_success
                .with_label_values(&values)
                .set(at_millis as f64 / 1000.0);
        }
    }

    /// Removes a data source's series (deleted).
    pub fn forget_data_source(&self, labels: &DataSourceLabels<'_>) {
        let values = self.fleet.values(labels);
        for gauge in [
            &self.fleet.up,
            &self.fleet.duration,
            &self.fleet.last_success,
        ] {
            // Err only when the series never existed.
            let _ = gauge.remove_label_values(&values);
        }
    }

    /// A data source whose labels were `before` now has `after`: its old series go when they
    /// are labelled differently (the next test makes new ones).
    pub fn relabel_data_source(&self, before: &DataSourceLabels<'_>, after: &DataSourceLabels<'_>) {
        if self.fleet.values(before) != self.fleet.values(after) {
            self.forget_data_source(before);
        }
    }

    /// `route` must be a route pattern or a fixed word, never a raw path: every distinct value
    /// is a new time series.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http
            .with_label_values(&[route, method, &status.to_string()])
            .observe(seconds);
    }

    /// Counts a connection test or introspection by how it ended: `success`, or its error
    /// code (a fixed list, so a bounded set of series).
    /// A test that went through an SSH tunnel (it has `ssh_*` phases) is counted once more in
    /// `jackal_tunnelled_tests_total`.
    pub fn count_test<T>(&self, outcome: &Result<T, ProbeFailure>, phases: &[PhaseRecord]) {
        let label = match outcome {
            Ok(_) => "success",
            Err(f) => f.code.as_str(),
        };
        self.tests.with_label_values(&[label]).inc();
        if phases.iter().any(|p| p.phase == Phase::SshConnect) {
            self.tunnelled.with_label_values(&[label]).inc();
        }
    }

    /// Counts a request the HTTP parser refused before routing (`status` is one of a few).
    pub fn count_protocol_error(&self, status: u16) {
        self.protocol_errors
            .with_label_values(&[&status.to_string()])
            .inc();
    }

    /// The histogram the store times its operations into.
    pub fn store_latency(&self) -> HistogramVec {
        self.store.clone()
    }

    /// The Prometheus text exposition format, and its content type.
    pub fn render(&self) -> (Vec<u8>, String) {
        let encoder = TextEncoder::new();
        let mut body = Vec::new();
        // Encoding into a Vec fails only for malformed metric families, which `new` rules out.
        encoder
            .encode(&self.registry.gather(), &mut body)
            .expect("metrics encode");
        (body, encoder.format_type().to_owned())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(false)
    }
}
