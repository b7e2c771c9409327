//! The admin listener: fault injection over HTTP, for a command line or a script, on its own
//! plain-HTTP loopback port (so the MAA routes stay MAA's). Same effect as
//! [`super::MaaService::inject`]:
//!
//! * `GET /faults`: `{"faults": [{"fault": "server-error", "times": 2}, …]}`, the armed faults.
//! * `POST /faults` with one armed fault, e.g. `{"fault": "server-error", "times": 3}`,
//!   `{"fault": "delay", "ms": 1500, "times": "always"}`, `{"fault": "too-many-requests",
//!   "retry_after": 2}` (`times` defaults to 1): 201 and the armed faults.
//! * `DELETE /faults`: disarms every fault; 200 and the (empty) list.

use serde_json::json;

use super::error::MaaError;
use super::faults::Armed;
use super::http::{Request, Response};
use super::routes::{State, method_not_allowed, not_found};

pub(super) fn handle(state: &State, request: &Request) -> Response {
    if request.path != "/faults" {
        return not_found(&request.path);
    }
    match request.method.as_str() {
        "GET" => listing(state, 200),
        "POST" => match serde_json::from_slice::<Armed>(&request.body) {
            Ok(armed) => {
                state.faults().arm(armed.fault, armed.times);
                listing(state, 201)
            }
            Err(e) => MaaError::new(400, "InvalidFault", format!("not a fault: {e}")).response(),
        },
        "DELETE" => {
            state.faults().clear();
            listing(state, 200)
        }
        _ => method_not_allowed("GET, POST, DELETE"),
    }
}

fn listing(state: &State, status: u16) -> Response {
    Response::json(status, &json!({ "faults": state.faults().armed() }))
}
