import { useEffect, useState } from "preact/hooks";
import { ApiError, openStream, StreamState } from "./api";

export interface Live<T> {
  data: T | null;
  state: StreamState;
  error: ApiError | null;
}

// The latest snapshot a live view sent for `event` on `path` (null path: nothing).
export function useLive<T>(path: string | null, event: string): Live<T> {
  const [live, setLive] = useState<Live<T>>({ data: null, state: "connecting", error: null });
  useEffect(() => {
    if (path === null) return;
    setLive({ data: null, state: "connecting", error: null });
    return openStream(path, {
      onEvent(name, data) {
        if (name === event) setLive({ data: data as T, state: "live", error: null });
      },
      onState(state, error) {
        setLive((prev) => ({ ...prev, state, error: error ?? (state === "live" ? null : prev.error) }));
      },
    });
  }, [path, event]);
  return live;
}

export function useHashRoute(): string[] {
  const read = () => decodeURIComponent(location.hash.replace(/^#\/?/, "")).split("/").filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}
