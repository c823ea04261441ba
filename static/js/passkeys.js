// Passkeys in the browser: navigator.credentials.create/get around the portal's JSON endpoints.
// No build step and no inline script (the CSP forbids it): pages load this file and describe
// what to do with data attributes:
//   [data-passkey="sign-in" | "prove"]  a button: options -> get() -> answer -> go to "redirect"
//   form[data-passkey="register"]       name + create() -> answer (recovery codes shown once)
//   input[autocomplete~="webauthn"]     passkey autofill (conditional mediation) through the
//                                       page's sign-in button's endpoints
// each with data-options-url and data-url; errors go to the nearest [data-passkey-error].
"use strict";

(function () {
  if (window.portalPasskeys) return; // loaded once per page, however many parts include it
  window.portalPasskeys = true;
  if (!window.PublicKeyCredential || !navigator.credentials) {
    document.querySelectorAll("[data-passkey]").forEach(function (element) {
      element.hidden = true;
    });
    return;
  }

  // -- base64url <-> ArrayBuffer (the fallback where the JSON helpers are missing) ----------
  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64url(value) {
    var text = atob(value.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (value.length % 4)) % 4));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes.buffer;
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: fromBase64url(item.id) });
    });
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromBase64url(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromBase64url(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
    }
    return json;
  }

  // -- talking to the portal ----------------------------------------------------------------
  function csrfToken(element) {
    var scope = element.closest("form") || document;
    var input = scope.querySelector("[name=csrfmiddlewaretoken]") ||
      document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body, element) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(element),
      },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.detail || "Something went wrong. Try again.");
          error.code = data.code;
          throw error;
        }
        return data;
      });
    });
  }

  function withNext(url, element) {
    var next = element.dataset.next;
    return next ? url + (url.indexOf("?") < 0 ? "?" : "&") + "next=" + encodeURIComponent(next) : url;
  }

  function report(element, error) {
    if (error && error.name === "AbortError") return;
    if (error && error.code === "reauthentication_required" && element.dataset.reauthUrl) {
      window.location.assign(element.dataset.reauthUrl);
      return;
    }
    var box = (element.closest("[data-passkey-scope]") || document).querySelector("[data-passkey-error]");
    var message = error && error.name === "NotAllowedError"
      ? "The passkey was not used (cancelled or timed out)."
      : (error && error.message) || "Something went wrong. Try again.";
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  // -- ceremonies ---------------------------------------------------------------------------
  var conditional = null; // the pending autofill request, aborted when a button is used

  function authenticate(element, mediation) {
    var controller = new AbortController();
    if (mediation) conditional = controller; // a click from now on aborts it, even mid-fetch
    return post(element.dataset.optionsUrl, {}, element)
      .then(function (options) {
        var request = { publicKey: requestOptions(options), signal: controller.signal };
        if (mediation) request.mediation = mediation;
        return navigator.credentials.get(request);
      })
      .then(function (credential) {
        return post(withNext(element.dataset.url, element), { credential: credentialJSON(credential) }, element);
      })
      .then(function (answer) {
        window.location.assign(answer.redirect);
      });
  }

  function onAuthenticateClick(event) {
    var button = event.currentTarget;
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    button.disabled = true;
    authenticate(button).catch(function (error) {
      button.disabled = false;
      report(button, error);
    });
  }

  function showRecoveryCodes(form, codes, then) {
    var box = document.querySelector("[data-recovery-codes]");
    if (!box) return then();
    box.querySelector("[data-recovery-codes-list]").textContent = codes.join("\n");
    var link = box.querySelector("[data-recovery-codes-download]");
    link.href = URL.createObjectURL(new Blob([codes.join("\n") + "\n"], { type: "text/plain" }));
    box.querySelector("[data-recovery-codes-done]").addEventListener("click", then);
    box.hidden = false;
    form.hidden = true;
  }

  function onRegisterSubmit(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var button = form.querySelector("button[type=submit]");
    var name = form.querySelector("[name=name]").value;
    button.disabled = true;
    post(form.dataset.optionsUrl, {}, form)
      .then(function (options) {
        return navigator.credentials.create({ publicKey: creationOptions(options) });
      })
      .then(function (credential) {
        return post(form.dataset.url, { name: name, credential: credentialJSON(credential) }, form);
      })
      .then(function (answer) {
        var go = function () { window.location.assign(answer.redirect); };
        if (answer.recovery_codes && answer.recovery_codes.length) {
          showRecoveryCodes(form, answer.recovery_codes, go);
        } else {
          go();
        }
      })
      .catch(function (error) {
        button.disabled = false;
        report(form, error);
      });
  }

  function autofill(button) {
    var available = PublicKeyCredential.isConditionalMediationAvailable;
    if (!available) return;
    available.call(PublicKeyCredential).then(function (yes) {
      if (!yes) return;
      authenticate(button, "conditional").catch(function (error) { report(button, error); });
    });
  }

  document.querySelectorAll("[data-passkey=sign-in], [data-passkey=prove]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", onAuthenticateClick);
  });
  document.querySelectorAll("form[data-passkey=register]").forEach(function (form) {
    form.hidden = false;
    form.addEventListener("submit", onRegisterSubmit);
  });
  // Autofill: the login page's username field offers passkeys, answered as the button would.
  var autofillButton = document.querySelector("[data-passkey=sign-in]");
  if (autofillButton && document.querySelector("input[autocomplete~=webauthn]")) autofill(autofillButton);
})();
