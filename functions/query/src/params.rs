//! Query-string parameters: each route names the parameters it accepts; anything else is refused, and
//! every value is parsed into a domain type before it gets near SQL.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use contrail_shared::domain::{Airport, Carrier, FlightStatus, parse_date, to_micros};
use contrail_shared::storage::{BBox, PositionStatuses, StatsGrouping};

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

    /// Whether the parameter was given (with any value).
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// `group_by`: `hour` or `carrier`, or absent.
    pub fn grouping(&self, name: &str) -> Result<Option<StatsGrouping>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("hour") => Ok(Some(StatsGrouping::Hour)),
            Some("carrier") => Ok(Some(StatsGrouping::Carrier)),
            Some(_) => Err(ApiError::invalid(name, "must be hour or carrier")),
        }
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

    /// An optional `minLon,minLat,maxLon,maxLat` box in degrees. Longitudes are within -180 to 180 and
    /// latitudes within -90 to 90; `minLat` may not exceed `maxLat`, but `minLon` may exceed `maxLon`: that box
    /// crosses the antimeridian.
    pub fn bbox(&self, name: &str) -> Result<Option<BBox>, ApiError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let shape = || {
            ApiError::invalid(name, "must be minLon,minLat,maxLon,maxLat: four decimal numbers of degrees (-12.5)")
        };
        let numbers: Vec<f64> = v
            .split(',')
            .map(|part| decimal(part).ok_or_else(shape))
            .collect::<Result<_, _>>()?;
        let [min_lon, min_lat, max_lon, max_lat] = numbers[..] else { return Err(shape()) };
        for (edge, value, bound) in
            [("minLon", min_lon, 180.0), ("maxLon", max_lon, 180.0), ("minLat", min_lat, 90.0), ("maxLat", max_lat, 90.0)]
        {
            if !(-bound..=bound).contains(&value) {
                return Err(ApiError::invalid(name, format!("{edge} {value} is outside -{bound} to {bound}")));
            }
        }
        if min_lat > max_lat {
            return Err(ApiError::invalid(name, format!("minLat {min_lat} is above maxLat {max_lat}")));
        }
        // -0 and 0 are the same edge; keep one spelling so equal boxes give equal cursor scopes.
        let z = |x: f64| if x == 0.0 { 0.0 } else { x };
        Ok(Some(BBox { min_lon: z(min_lon), min_lat: z(min_lat), max_lon: z(max_lon), max_lat: z(max_lat) }))
    }

    /// `include=departed` adds flights whose status is `departed` (off the gate, not yet reported airborne)
    /// to the airborne ones.
    pub fn position_statuses(&self, name: &str) -> Result<PositionStatuses, ApiError> {
        match self.get(name) {
            None => Ok(PositionStatuses::Airborne),
            Some("departed") => Ok(PositionStatuses::AirborneAndDeparted),
            Some(_) => Err(ApiError::invalid(name, "must be departed (airborne flights are always included)")),
        }
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

/// A plain decimal number, `-?[0-9]+(\.[0-9]+)?`: no exponent, sign or spaces, the API description's pattern.
fn decimal(text: &str) -> Option<f64> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let plain = match unsigned.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(unsigned),
    };
    plain.then(|| text.parse::<f64>().ok()).flatten().filter(|x| x.is_finite())
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
    fn a_bbox_is_four_numbers_in_range_and_may_cross_the_antimeridian() {
        let bbox = |v: &str| Params::parse(Some(&format!("bbox={v}")), &["bbox"]).unwrap().bbox("bbox");
        let b = bbox("170,-10,-170,10").unwrap().unwrap();
        assert!(b.crosses_antimeridian());
        assert_eq!((b.min_lon, b.min_lat, b.max_lon, b.max_lat), (170.0, -10.0, -170.0, 10.0));
        let b = bbox("-74.5,40.1,-73.25,41").unwrap().unwrap();
        assert!(!b.crosses_antimeridian());
        assert_eq!(bbox("-180,-90,180,90").unwrap().unwrap().max_lat, 90.0);
        assert_eq!(bbox("-0,-0,0,0").unwrap().unwrap().min_lon.to_string(), "0", "-0 reads as 0");
        for bad in [
            "", "1,2,3", "1,2,3,4,5", "a,b,c,d", "1,,3,4", "NaN,0,1,1", "inf,0,1,1", "0,0,1e999,1", "-181,0,1,1",
            "0,0,180.5,1", "0,-91,1,1", "0,0,1,90.01", "0,10,1,5", " 1,2,3,4", "+1,0,2,1", "1e1,0,20,1", ".5,0,1,1",
            "1.,0,2,1", "1.5.5,0,2,1", "0x1,0,2,1", "-,0,1,1",
        ] {
            let err = bbox(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidParameter, "{bad}");
            assert!(err.message.starts_with("bbox "), "{}", err.message);
        }
        assert!(bbox("0,10,1,5").unwrap_err().message.contains("minLat 10 is above maxLat 5"));
        assert!(bbox("-181,0,1,1").unwrap_err().message.contains("minLon -181 is outside -180 to 180"));
    }

    #[test]
    fn include_takes_departed_only() {
        let p = |q: &str| Params::parse(Some(q), &["include"]).unwrap().position_statuses("include");
        assert_eq!(p("").unwrap(), PositionStatuses::Airborne);
        assert_eq!(p("include=departed").unwrap(), PositionStatuses::AirborneAndDeparted);
        for bad in ["include=", "include=airborne", "include=departed,landed", "include=Departed"] {
            assert_eq!(p(bad).unwrap_err().code, ErrorCode::InvalidParameter, "{bad}");
        }
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
