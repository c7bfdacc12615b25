// Where the board finds the API when it is hosted on its own (S3, any static host).
// `contrail up` serves its own /config.js in place of this file, with its URL and a dev token.
window.CONTRAIL_CONFIG = window.CONTRAIL_CONFIG || {
  // Base URL of the API, e.g. "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"; "" = same origin.
  apiBaseUrl: "",
  // A token to pre-fill the sign-in field with; leave empty outside local development.
  devToken: "",
};
