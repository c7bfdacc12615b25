//! Query-string parameters: each route names the parameters it accepts; anything else is refused, and
//! every value is parsed into a domain type before it gets near SQL.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use contrail_shared::domain::{Airport, Carrier, FlightStatus, parse_date, to_micros};

use crate::error::{ApiError, ErrorCode};

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page: keeps the worst-case response far below Lambda's 6 MB payload limit.
pub const MAX_LIMIT: u32 = 500;
/// Longest value looked at; longer values are refused without being parsed or quoted.
const MAX_VALUE_CHARS: usize = 512;

/// The parameters of one request, by name (each at most once).
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Reads a raw query string (`a=1&b=2`, percent-encoded), accepting only `allowed` names.
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if name.is_empty() && value.is_empty() {
                continue;
            }
            if !allowed.contains(&name.as_ref()) {
                let shown: String = name.chars().take(40).collect();
                let hint = if allowed.is_empty() {
                    "this route takes no parameters".to_owned()
                } else {
                    format!("allowed: {}", allowed.join(", "))
                };
                return Err(ApiError::new(
                    ErrorCode::UnknownParameter,
                    format!("unknown parameter {shown:?} ({hint})"),
                ));
            }
            if values.contains_key(name.as_ref()) {
                return Err(ApiError::invalid(&name, "is given more than once"));
            }
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(ApiError::invalid(&name, format!("is longer than {MAX_VALUE_CHARS} characters")));
            }
            values.insert(name.into_owned(), value.into_owned());
        }
        Ok(Self { values })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// An optional carrier code.
    pub fn carrier(&self, name: &str) -> Result<Option<Carrier>, ApiError> {
        self.get(name).map(|v| Carrier::parse(v).map_err(|e| ApiError::invalid(name, e))).transpose()
    }

    /// An optional airport code.
    pub fn airport(&self, name: &str) -> Result<Option<Airport>, ApiError> {
        self.get(name).map(|v| parse_airport(name, v)).transpose()
    }

    /// An optional `YYYY-MM-DD` date.
    pub fn date(&self, name: &str) -> Result<Option<NaiveDate>, ApiError> {
        self.get(name).map(|v| parse_date(v).map_err(|e| ApiError::invalid(name, e))).transpose()
    }

    /// A required `YYYY-MM-DD` date.
    pub fn required_date(&self, name: &str) -> Result<NaiveDate, ApiError> {
        self.date(name)?.ok_or_else(|| {
            ApiError::new(ErrorCode::MissingParameter, format!("{name} is required (a date YYYY-MM-DD)"))
        })
    }

    /// An optional RFC 3339 time (with an offset), kept to the microsecond like stored times.
    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|v| {
                // A '+' left unencoded in a query string arrives as a space; read it as the offset sign.
                DateTime::parse_from_rfc3339(&v.replace(' ', "+"))
                    .map(|t| to_micros(t.to_utc()))
                    .map_err(|_| ApiError::invalid(name, "must be an RFC 3339 time such as 2024-05-01T12:00:00Z"))
            })
            .transpose()
    }

    /// A comma list of statuses; empty means any. Sorted and deduplicated, so equal filters compare equal.
    pub fn statuses(&self, name: &str) -> Result<Vec<FlightStatus>, ApiError> {
        let Some(v) = self.get(name) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for part in v.split(',') {
            let status = FlightStatus::parse(part).ok_or_else(|| {
                let names: Vec<&str> = FlightStatus::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::invalid(name, format!("must be a comma list of: {}", names.join(", ")))
            })?;
            out.push(status);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `limit`: 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.get("limit") {
            None => Ok(DEFAULT_LIMIT),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) && !v.starts_with('+') => Ok(n),
                _ => Err(ApiError::invalid("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))),
            },
        }
    }

    /// The raw `cursor`, decoded later against the route's scope.
    pub fn cursor(&self) -> Option<&str> {
        self.get("cursor")
    }
}

/// Parses an airport code from a query or path parameter.
pub fn parse_airport(name: &str, v: &str) -> Result<Airport, ApiError> {
    Airport::parse(v).map_err(|e| ApiError::invalid(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        let err = Params::parse(Some("carrier=UA&colour=red"), &["carrier"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownParameter);
        let err = Params::parse(Some("carrier=UA&carrier=AA"), &["carrier"]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParameter);
        assert!(Params::parse(Some("carrier=UA&"), &["carrier"]).is_ok());
    }

    #[test]
    fn limits_outside_one_to_five_hundred_are_refused() {
        for bad in ["0", "501", "-1", "+5", "ten", "", "1.5", "99999999999"] {
            let p = Params::parse(Some(&format!("limit={bad}")), &["limit"]).unwrap();
            assert_eq!(p.limit().unwrap_err().code, ErrorCode::InvalidParameter, "{bad}");
        }
        assert_eq!(Params::parse(None, &["limit"]).unwrap().limit().unwrap(), 50);
        assert_eq!(Params::parse(Some("limit=500"), &["limit"]).unwrap().limit().unwrap(), 500);
    }

    #[test]
    fn statuses_are_a_sorted_set() {
        let p = Params::parse(Some("status=landed,delayed,landed"), &["status"]).unwrap();
        assert_eq!(p.statuses("status").unwrap(), vec![FlightStatus::Delayed, FlightStatus::Landed]);
        let p = Params::parse(Some("status=landed,"), &["status"]).unwrap();
        assert!(p.statuses("status").is_err());
    }

    #[test]
    fn times_need_an_offset_and_dates_need_the_full_shape() {
        let p = Params::parse(
            Some("a=2024-05-01T10:00:00%2B02:00&b=2024-05-01T10:00:00&d=2024-5-1&e=2024-05-01T10:00:00+02:00"),
            &["a", "b", "d", "e"],
        )
        .unwrap();
        assert_eq!(p.time("a").unwrap().unwrap().to_rfc3339(), "2024-05-01T08:00:00+00:00");
        assert_eq!(p.time("e").unwrap(), p.time("a").unwrap());
        assert!(p.time("b").is_err());
        assert!(p.date("d").is_err());
    }
}
