//! A fake Kubernetes API server for unit tests: an in-memory object store behind a
//! `tower::Service`, given to a real `kube::Client`, that records every request it answers.
//!
//! Like kube-rs' controller-rs fixtures, tests assert the exact requests the charm makes; unlike
//! a fixed script, the store answers reads from what was seeded and written, so a whole
//! reconcile (tens of calls) runs without spelling out each answer. The API server's own
//! behaviour is kept to what the charm relies on: 404 for a missing object, 409 for a create
//! over an existing one, equality label selectors, server-side apply replacing the object
//! (its status kept, the applied fields recorded in `managedFields` with every list atomic),
//! JSON merge patch, and CRDs becoming established once applied.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use http::{Request, Response};
use kube::client::Body;
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `GET`, `PATCH`, `POST`, `DELETE`...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query parameters, percent-decoded.
    pub query: BTreeMap<String, String>,
    /// The `content-type` header, if any.
    pub content_type: Option<String>,
    /// The body as JSON (`Null` when empty).
    pub body: Value,
}

impl Call {
    /// `METHOD path` (for comparing whole request sequences).
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// An answer that replaces the store's for the requests it returns `Some` for.
type Answer = Box<dyn Fn(&Call) -> Option<(u16, Value)> + Send>;

/// Where an object lives: API prefix (`/api/v1`, `/apis/apps/v1`), namespace, plural, name.
type Key = (String, Option<String>, String, String);

#[derive(Default)]
struct State {
    objects: BTreeMap<Key, Value>,
    calls: Vec<Call>,
    answers: Vec<Answer>,
    workloads_ready: bool,
}

/// The fake API server; clones share one store.
#[derive(Clone, Default)]
pub struct FakeApi(Arc<Mutex<State>>);

impl PartialEq for FakeApi {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for FakeApi {}

impl std::fmt::Debug for FakeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeApi")
    }
}

impl FakeApi {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking test poisons the lock; the store is still fine to read.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A client whose every request this fake answers (call inside a tokio runtime).
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.clone(), "default")
    }

    /// Stores `object` as if someone had created it.
    pub fn seed(&self, object: Value) {
        let key = key_of(&object);
        self.state().objects.insert(key, object);
    }

    /// Answers the requests `answer` returns `Some((code, body))` for with that instead.
    pub fn answer(&self, answer: impl Fn(&Call) -> Option<(u16, Value)> + Send + 'static) {
        self.state().answers.push(Box::new(answer));
    }

    /// Makes applied Deployments and DaemonSets report every replica ready (as their
    /// controllers would).
    pub fn workloads_ready(&self) {
        self.state().workloads_ready = true;
    }

    /// Every request answered so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Forgets the requests answered so far.
    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    /// Removes the stored object of that kind and name (as someone deleting it would).
    pub fn remove(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) {
        let (prefix, plural) = place(api_version, kind);
        self.state().objects.remove(&(
            prefix,
            namespace.map(str::to_string),
            plural,
            name.to_string(),
        ));
    }

    /// The requests answered so far that may change something (not GET).
    pub fn writes(&self) -> Vec<Call> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.method != "GET")
            .cloned()
            .collect()
    }

    /// The stored object of that kind and name, if any.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let (prefix, plural) = place(api_version, kind);
        self.state()
            .objects
            .get(&(
                prefix,
                namespace.map(str::to_string),
                plural,
                name.to_string(),
            ))
            .cloned()
    }
}

impl tower::Service<Request<Body>> for FakeApi {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let api = self.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let body = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
            };
            let call = Call {
                method: parts.method.to_string(),
                path: parts.uri.path().to_string(),
                query: parts.uri.query().map(parse_query).unwrap_or_default(),
                content_type: parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                body,
            };
            let (code, out) = api.state().handle(call);
            let response = Response::builder()
                .status(code)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(out.to_string().into_bytes()))
                .unwrap_or_else(|_| Response::new(Body::empty()));
            Ok(response)
        })
    }
}

/// What a path names.
enum Target {
    /// A collection: prefix, namespace (None: every namespace), plural.
    Collection(String, Option<String>, String),
    /// One object.
    Object(Key),
}

fn target(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (prefix, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => (format!("/api/{version}"), rest),
        ["apis", group, version, rest @ ..] => (format!("/apis/{group}/{version}"), rest),
        _ => return None,
    };
    let s = |x: &str| x.to_string();
    Some(match rest {
        [plural] => Target::Collection(prefix, None, s(plural)),
        [plural, name] => Target::Object((prefix, None, s(plural), s(name))),
        ["namespaces", ns, plural] => Target::Collection(prefix, Some(s(ns)), s(plural)),
        ["namespaces", ns, plural, name] => {
            Target::Object((prefix, Some(s(ns)), s(plural), s(name)))
        }
        _ => return None,
    })
}

/// The API prefix and plural of a kind.
fn place(api_version: &str, kind: &str) -> (String, String) {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    (prefix, resource.plural)
}

fn key_of(object: &Value) -> Key {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let (prefix, plural) = place(&text(&object["apiVersion"]), &text(&object["kind"]));
    let meta = &object["metadata"];
    (
        prefix,
        meta["namespace"].as_str().map(str::to_string),
        plural,
        text(&meta["name"]),
    )
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `labels` satisfy an equality selector (`k=v,k2=v2`, `k` for presence).
fn selects(selector: &str, labels: &Value) -> bool {
    selector
        .split(',')
        .filter(|t| !t.is_empty())
        .all(|term| match term.split_once("!=") {
            Some((k, v)) => labels[k].as_str() != Some(v),
            None => match term.split_once('=') {
                Some((k, v)) => labels[k].as_str() == Some(v.trim_start_matches('=')),
                None => labels.get(term).is_some(),
            },
        })
}

/// The `fieldsV1` set of the fields `applied` states (every list atomic: a leaf).
fn fields_of(applied: &Value) -> Value {
    match applied.as_object() {
        Some(object) => Value::Object(
            object
                .iter()
                .filter(|(k, _)| *k != "apiVersion" && *k != "kind")
                .map(|(k, v)| (format!("f:{k}"), fields_of(v)))
                .collect(),
        ),
        None => json!({}),
    }
}

/// A Kubernetes `Status` failure.
pub fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
               "reason": reason, "message": message, "code": code}),
    )
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    target.remove(k);
                } else {
                    merge(target.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (_, Some(_)) => {
            *target = json!({});
            merge(target, patch);
        }
        _ => *target = patch.clone(),
    }
}

impl State {
    fn handle(&mut self, call: Call) -> (u16, Value) {
        self.calls.push(call.clone());
        if let Some(answer) = self.answers.iter().find_map(|a| a(&call)) {
            return answer;
        }
        let not_found = |what: &str| status(404, "NotFound", &format!("{what} not found"));
        let Some(target) = target(&call.path) else {
            return not_found(&call.path);
        };
        match (call.method.as_str(), target) {
            ("GET", Target::Object(key)) => match self.objects.get(&key) {
                Some(object) => (200, object.clone()),
                None => not_found(&key.3),
            },
            ("GET", Target::Collection(prefix, namespace, plural)) => {
                let selector = call.query.get("labelSelector").cloned().unwrap_or_default();
                let items: Vec<Value> = self
                    .objects
                    .iter()
                    .filter(|((p, ns, pl, _), _)| {
                        *p == prefix && *pl == plural && (namespace.is_none() || *ns == namespace)
                    })
                    .filter(|(_, o)| selects(&selector, &o["metadata"]["labels"]))
                    .map(|(_, o)| o.clone())
                    .collect();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List",
                           "metadata": {"resourceVersion": "1"}, "items": items}),
                )
            }
            ("PATCH", Target::Object(key)) if call.query.contains_key("fieldManager") => {
                let mut object = call.body.clone();
                if let Some(old) = self.objects.get(&key).and_then(|o| o.get("status")) {
                    object["status"] = old.clone();
                }
                object["metadata"]["managedFields"] = json!([{
                    "manager": call.query["fieldManager"], "operation": "Apply",
                    "fieldsType": "FieldsV1", "fieldsV1": fields_of(&call.body),
                }]);
                self.settle(&mut object);
                self.objects.insert(key, object.clone());
                (200, object)
            }
            ("PATCH", Target::Object(key)) => match self.objects.get_mut(&key) {
                Some(object) => {
                    merge(object, &call.body);
                    (200, object.clone())
                }
                None => not_found(&key.3),
            },
            ("POST", Target::Collection(..)) => {
                let key = key_of(&call.body);
                if self.objects.contains_key(&key) {
                    return status(409, "AlreadyExists", &format!("{} already exists", key.3));
                }
                self.objects.insert(key, call.body.clone());
                (201, call.body)
            }
            ("DELETE", Target::Object(key)) => match self.objects.remove(&key) {
                Some(object) => (200, object),
                None => not_found(&key.3),
            },
            _ => status(405, "MethodNotAllowed", &call.line()),
        }
    }

    /// What the API server and the controllers make of an applied object.
    fn settle(&self, object: &mut Value) {
        match object["kind"].as_str() {
            Some("CustomResourceDefinition") => {
                object["status"] =
                    json!({"conditions": [{"type": "Established", "status": "True"}]});
            }
            Some("Deployment") if self.workloads_ready => {
                let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
                object["status"] = json!({"availableReplicas": wanted});
            }
            Some("DaemonSet") if self.workloads_ready => {
                object["status"] = json!({"numberReady": 2, "desiredNumberScheduled": 2,
                    "currentNumberScheduled": 2, "numberMisscheduled": 0});
            }
            _ => {}
        }
    }
}

#[test]
fn selectors_and_paths_parse() {
    assert_eq!(
        decode("app.kubernetes.io%2Fmanaged-by%3Dmetallb-charm"),
        "app.kubernetes.io/managed-by=metallb-charm"
    );
    let labels = json!({"a": "1", "b": "2"});
    assert!(selects("a=1,b", &labels));
    assert!(!selects("a=1,c", &labels));
    assert!(selects("a==1,b!=3", &labels));
    assert!(matches!(
        target("/api/v1/namespaces/x"),
        Some(Target::Object((_, None, p, n))) if p == "namespaces" && n == "x"
    ));
    assert!(matches!(
        target("/apis/apps/v1/namespaces/x/deployments"),
        Some(Target::Collection(_, Some(ns), p)) if ns == "x" && p == "deployments"
    ));
}
