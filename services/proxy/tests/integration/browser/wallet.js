// A test EIP-1193 provider: every request goes to the Python wallet exposed as window.__certifyWallet,
// which answers {"result": …} or {"error": {"code", "message"}} (as a JSON string).
(() => {
  const listeners = new Map();
  window.ethereum = {
    isCertifyTestWallet: true,
    async request(args) {
      if (!args || typeof args.method !== "string") {
        const error = new Error("invalid request");
        error.code = -32600;
        throw error;
      }
      const answer = JSON.parse(await window.__certifyWallet(args.method, JSON.stringify(args.params ?? [])));
      if (answer.error) {
        const error = new Error(answer.error.message);
        error.code = answer.error.code;
        throw error;
      }
      return answer.result;
    },
    on(event, listener) {
      listeners.set(event, [...(listeners.get(event) || []), listener]);
    },
    removeListener(event, listener) {
      listeners.set(event, (listeners.get(event) || []).filter((item) => item !== listener));
    },
  };
})();
