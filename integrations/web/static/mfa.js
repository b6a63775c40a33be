// Tollgate's security key pages: asks the browser for a WebAuthn
// credential (registration) or assertion (approval, review, emergency
// change) with the options the server put in #mfa-data, posts the answer
// back, and shows the server's verdict. Served from the same origin; the
// pages allow no other script.
(function () {
  "use strict";

  var dataEl = document.getElementById("mfa-data");
  var button = document.getElementById("mfa-go");
  var status = document.getElementById("mfa-status");
  if (!dataEl || !button || !status) {
    return;
  }
  var data = JSON.parse(dataEl.dataset.json);

  function show(outcome, text, next) {
    status.dataset.outcome = outcome;
    status.textContent = text;
    if (next) {
      var a = document.createElement("a");
      a.href = next;
      a.id = "mfa-next";
      a.textContent = " See the request.";
      status.appendChild(a);
    }
  }

  function fromB64u(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64u(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIDs(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: fromB64u(c.id) });
    });
  }

  function creationOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: fromB64u(pk.user.id) });
    pk.excludeCredentials = withIDs(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = Object.assign({}, o.publicKey);
    pk.challenge = fromB64u(pk.challenge);
    pk.allowCredentials = withIDs(pk.allowCredentials);
    return { publicKey: pk };
  }

  function encode(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: { clientDataJSON: toB64u(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64u(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64u(r.authenticatorData);
      out.response.signature = toB64u(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toB64u(r.userHandle);
      }
    }
    return out;
  }

  if (!window.PublicKeyCredential || !navigator.credentials) {
    show("unsupported", "This browser cannot use security keys here (they need https, or localhost).");
    button.disabled = true;
    return;
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    show("waiting", "Touch your security key, or confirm with your passkey…");
    var body = { ceremony: data.ceremony };
    var ask;
    if (data.kind === "create") {
      var name = document.getElementById("mfa-name");
      body.name = name ? name.value.trim() : "";
      ask = navigator.credentials.create(creationOptions(data.options));
    } else {
      ask = navigator.credentials.get(requestOptions(data.options));
    }
    ask.then(function (cred) {
      body.credential = encode(cred);
      show("sending", "Checking…");
      return fetch(data.finish, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body)
      }).then(function (resp) {
        return resp.json();
      }).then(function (verdict) {
        show(verdict.ok ? "done" : "refused", verdict.message, verdict.next);
      });
    }).catch(function (err) {
      // Nothing reached the server: the challenge is still good.
      button.disabled = false;
      show("error", "The security key did not answer (" + (err && err.name || "error") + "). Try again.");
    });
  });
  // The button answers from now on (tests wait for this, not for the button).
  button.dataset.ready = "true";
})();
