// The payment page: asks an injected EIP-1193 wallet for an EIP-3009 authorization (eth_signTypedData_v4),
// posts it as an x402 v2 payment to the token-guarded callback, then follows the request until its proof.
// Plain script, no build step, no third-party host: everything it talks to is this origin and the wallet
// (the wallet calls are in eip1193.js, loaded before this file).
"use strict";

(() => {
  const main = document.getElementById("pay");
  const requestId = main.dataset.requestId;
  const token = new URLSearchParams(window.location.search).get("token") || "";
  const query = `?token=${encodeURIComponent(token)}`;
  const pagePath = `/pay/${encodeURIComponent(requestId)}`;
  const AWAITING = ["initiated", "quoted", "payment_pending"];
  const STEPS = ["payment_pending", "payment_verified", "certifying", "completed"];
  const POLL_MS = 1000;
  const MAX_POLLS = 1800;
  const { PageError, call, ensureChain, randomNonce, base64 } = window.CertifyWallet;
  const message = document.getElementById("message");
  const button = document.getElementById("pay-button");

  let view = null;
  let fetchedAt = 0;
  let action = null;
  let polling = false;

  function show(state, text) {
    message.dataset.state = state;
    main.dataset.state = state;
    message.textContent = text;
  }

  function offerButton(label, handler) {
    action = handler;
    button.textContent = label;
    button.hidden = handler === null;
    button.disabled = false;
  }

  function usdc() {
    return `${view.quote.amount_usdc} USDC`;
  }

  async function getJson(url, init) {
    let response;
    try {
      response = await fetch(url, { cache: "no-store", credentials: "omit", ...init });
    } catch (_error) {
      throw new PageError("error", "The service cannot be reached. Check your connection and try again.");
    }
    let body = {};
    try {
      body = await response.json();
    } catch (_error) {
      body = {};
    }
    return { status: response.status, body, retryAfter: Number(response.headers.get("Retry-After")) || 0 };
  }

  async function refresh() {
    const answer = await getJson(`${pagePath}/status${query}`);
    if (answer.status === 404) {
      throw new PageError("error", "This payment link is not valid. Check that it was copied whole.");
    }
    if (answer.status === 429) {
      throw new PageError("error", `Too many requests; try again in ${Math.ceil(answer.retryAfter || 5)} seconds.`);
    }
    if (answer.status !== 200) {
      throw new PageError("error", answer.body.message || `The service answered ${answer.status}; try again.`);
    }
    view = answer.body;
    fetchedAt = Date.now();
    renderProgress();
    renderValidity();
    return view;
  }

  function renderValidity() {
    const until = view.quote.valid_until;
    const element = document.getElementById("valid-until");
    if (!until || !element) return;
    element.setAttribute("datetime", until);
    element.textContent = new Date(until).toLocaleString();
  }

  function serverNow() {
    return view.server_time + Math.floor((Date.now() - fetchedAt) / 1000);
  }

  function quoteExpired() {
    const left = view.quote.expires_in_s;
    return left !== null && left - (Date.now() - fetchedAt) / 1000 <= 0;
  }

  // Steps done: the payment once settled, everything once completed; the current step is the next one.
  function renderProgress() {
    const paid = Boolean(view.payment) || !view.awaiting_payment;
    const finished = view.status === "completed";
    const reached = finished ? STEPS.length : paid ? 2 : 0;
    const current = finished || view.status === "failed" ? -1 : reached;
    for (const item of document.querySelectorAll("#progress li")) {
      const index = STEPS.indexOf(item.dataset.step);
      item.classList.toggle("done", index < reached);
      if (index === current) {
        item.setAttribute("aria-current", "step");
      } else {
        item.removeAttribute("aria-current");
      }
    }
  }

  function renderProof() {
    const proof = view.certification || {};
    document.getElementById("proof-tx").textContent = proof.tx_id || "";
    document.getElementById("proof-block").textContent = proof.block_id || "";
    document.getElementById("proof-time").textContent = proof.timestamp || view.completed_at || "";
    document.getElementById("proof-payment").textContent = (view.payment && view.payment.tx_hash) || "";
    const link = document.getElementById("download");
    link.href = `${pagePath}/proof${query}`;
    link.setAttribute("download", `certify-proof-${requestId}.json`);
    document.getElementById("proof").hidden = false;
  }

  // Where the request stands, as the page shows it when it is not in the middle of a payment.
  function settle(alreadyPaid) {
    if (view.status === "completed") {
      renderProof();
      show("completed", "Completed: the document is certified on Circular. Download the proof below.");
      offerButton("", null);
      return;
    }
    if (view.status === "failed") {
      const reason = (view.error && view.error.message) || "unknown reason";
      show("failed", `The certification failed: ${reason}.`);
      offerButton("", null);
      return;
    }
    if (!view.awaiting_payment) {
      const text = alreadyPaid
        ? "This request is already paid; you will not be charged again. Certifying…"
        : "Payment settled. Certifying the document on Circular…";
      show(alreadyPaid ? "already_paid" : "processing", text);
      offerButton("", null);
      poll();
      return;
    }
    if (quoteExpired()) {
      expired();
      return;
    }
    if (!window.ethereum) {
      show(
        "no_wallet",
        "No wallet found in this browser. Open this page in your wallet app's browser (scan the QR code) " +
          "or install a browser wallet, then reload.",
      );
      offerButton("", null);
      return;
    }
    show("ready", `Ready: pay ${usdc()} on ${view.chain.chainName} with your wallet.`);
    offerButton(`Connect wallet and pay ${usdc()}`, pay);
  }

  function expired() {
    show(
      "expired",
      "This quote has expired; nothing was paid. Ask for a new payment link (send the certification " +
        "request again), then check again here.",
    );
    offerButton("Check for a new quote", load);
  }

  function authorizationFor(from) {
    const now = serverNow();
    // validBefore stays inside the requirement's maxTimeoutSeconds, with room for the time to submit.
    const window_ = Math.max(view.max_timeout_s - 30, 30);
    return {
      from,
      to: view.quote.pay_to,
      value: String(view.quote.amount_atomic),
      validAfter: String(now - 60),
      validBefore: String(now + window_),
      nonce: randomNonce(),
    };
  }

  const PAYMENT_PROBLEMS = {
    quote_expired: null,
    nonce_already_used: "This authorization was already used for another payment. Try again to sign a new one.",
    insufficient_funds: "Your wallet does not hold enough USDC on this network. Nothing was paid.",
    invalid_signature: "The signature does not match your account (a smart-contract wallet may not be supported).",
    expired: "The authorization expired before it reached us (check your device's clock) and try again.",
    not_yet_valid: "The authorization is not valid yet (check your device's clock) and try again.",
    network_mismatch: "The payment was made for another network. Nothing was paid.",
  };

  function paymentProblem(answer) {
    const code = answer.body.code;
    if (code === "quote_expired") {
      expired();
      return;
    }
    if (answer.status === 429 || code === "payment_in_progress") {
      const wait = Math.ceil(answer.retryAfter || (answer.body.details && answer.body.details.retry_after) || 5);
      throw new PageError("error", `The service is busy with this payment; try again in ${wait} seconds.`);
    }
    const text = PAYMENT_PROBLEMS[code] || answer.body.message || `The service answered ${answer.status}.`;
    throw new PageError("error", `Payment not accepted: ${text}`);
  }

  async function pay() {
    button.disabled = true;
    try {
      await refresh();
      if (!view.awaiting_payment) {
        settle(true);
        return;
      }
      if (quoteExpired()) {
        expired();
        return;
      }
      if (!view.typed_data || !view.accepted) {
        throw new PageError("error", "This request has no offer the page can sign; pay it through the API.");
      }
      const provider = window.ethereum;
      if (!provider) {
        settle(false);
        return;
      }
      show("connecting", "Connecting to your wallet…");
      const accounts = await call(provider, "eth_requestAccounts");
      if (!Array.isArray(accounts) || !accounts[0]) throw new PageError("error", "Your wallet shared no account.");
      await ensureChain(provider, view.chain, () =>
        show("switching", `Switching your wallet to ${view.chain.chainName}…`),
      );
      const authorization = authorizationFor(accounts[0]);
      const typed = { ...view.typed_data, message: authorization };
      show("signing", `Confirm in your wallet: authorize ${usdc()} to ${view.quote.pay_to}. No gas is spent.`);
      const signature = await call(provider, "eth_signTypedData_v4", [accounts[0], JSON.stringify(typed)]);
      show("submitting", "Submitting your payment…");
      const payment = { x402Version: 2, accepted: view.accepted, payload: { signature, authorization } };
      const answer = await getJson(`/v1/pay/${encodeURIComponent(requestId)}${query}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ payment: base64(JSON.stringify(payment)) }),
      });
      if (answer.status === 200 || answer.status === 202) {
        await refresh();
        settle(false);
        return;
      }
      paymentProblem(answer);
    } catch (error) {
      fail(error);
    }
  }

  function fail(error) {
    const state = error instanceof PageError ? error.state : "error";
    show(state, error instanceof PageError ? error.message : `Something went wrong: ${error}.`);
    offerButton("Try again", view && view.awaiting_payment ? pay : load);
  }

  function poll() {
    if (polling) return;
    polling = true;
    let polls = 0;
    const step = async () => {
      polls += 1;
      let delay = POLL_MS;
      try {
        await refresh();
        if (view.status === "completed" || view.status === "failed") {
          polling = false;
          settle(false);
          return;
        }
      } catch (_error) {
        delay = POLL_MS * 5;
      }
      if (polls >= MAX_POLLS) {
        polling = false;
        show("error", "Still not finished; reload this page later to see the proof.");
        return;
      }
      window.setTimeout(step, delay);
    };
    window.setTimeout(step, POLL_MS);
  }

  async function load() {
    button.disabled = true;
    try {
      await refresh();
      settle(true);
    } catch (error) {
      fail(error);
    }
  }

  button.addEventListener("click", () => {
    if (action !== null) action();
  });
  load();
})();
