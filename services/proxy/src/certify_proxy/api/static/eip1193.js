// The EIP-1193 calls the payment page makes, written by hand (no library, no third-party host):
// accounts, switching or adding the chain (EIP-3326 / EIP-3085), and the helpers to build an x402 payment.
"use strict";

window.CertifyWallet = (() => {
  /** An outcome the page shows as a state (rejected, wrong_chain, error…) with a sentence for people. */
  class PageError extends Error {
    constructor(state, text) {
      super(text);
      this.state = state;
    }
  }

  /** The EIP-1193 error code, also when a wallet nests it (MetaMask mobile: data.originalError.code). */
  function errorCode(error) {
    if (!error) return undefined;
    const nested = error.data && error.data.originalError ? error.data.originalError.code : undefined;
    return error.code !== undefined ? Number(error.code) : nested;
  }

  /** provider.request, with 4001 (the person said no) turned into the "rejected" state. */
  async function call(provider, method, params) {
    try {
      return await provider.request(params === undefined ? { method } : { method, params });
    } catch (error) {
      if (errorCode(error) === 4001) {
        throw new PageError("rejected", "You rejected the request in your wallet. Nothing was paid.");
      }
      throw new PageError("error", `Your wallet answered with an error: ${(error && error.message) || error}.`);
    }
  }

  function wrongChain(chain) {
    return new PageError(
      "wrong_chain",
      `Your wallet is on another network. Switch it to ${chain.chainName} ` +
        `(chain ${BigInt(chain.chainId)}) and try again. Nothing was paid.`,
    );
  }

  async function onChain(provider, chain) {
    const current = await call(provider, "eth_chainId");
    try {
      return BigInt(current) === BigInt(chain.chainId);
    } catch (_error) {
      return false;
    }
  }

  /** Make the wallet use ``chain`` (EIP-3085 parameters): switch, or add it on 4902 and switch again. */
  async function ensureChain(provider, chain, onSwitching) {
    if (await onChain(provider, chain)) return;
    onSwitching();
    const target = [{ chainId: chain.chainId }];
    try {
      await provider.request({ method: "wallet_switchEthereumChain", params: target });
    } catch (error) {
      if (errorCode(error) !== 4902) throw wrongChain(chain);
      try {
        await provider.request({ method: "wallet_addEthereumChain", params: [chain] });
        await provider.request({ method: "wallet_switchEthereumChain", params: target });
      } catch (_error) {
        throw wrongChain(chain);
      }
    }
    if (!(await onChain(provider, chain))) throw wrongChain(chain);
  }

  /** A fresh EIP-3009 nonce: 32 random bytes as 0x hex. */
  function randomNonce() {
    const bytes = new Uint8Array(32);
    window.crypto.getRandomValues(bytes);
    return `0x${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
  }

  /** Standard base64 of UTF-8 text (the x402 header encoding). */
  function base64(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return window.btoa(binary);
  }

  return { PageError, call, ensureChain, randomNonce, base64 };
})();
