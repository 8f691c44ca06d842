import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, saveToken, savedToken } from "./api";
import { ErrorNote, Session } from "./components";
import { useHashRoute } from "./hooks";
import { Dlq, DlqList } from "./pages/Dlq";
import { Group } from "./pages/Group";
import { Groups } from "./pages/Groups";
import { Overview } from "./pages/Overview";
import { Topic } from "./pages/Topic";
import { Topics } from "./pages/Topics";
import { SignedIn } from "./types";

const NAV = [
  ["", "Overview"],
  ["topics", "Topics"],
  ["groups", "Groups"],
  ["dlq", "DLQ"],
] as const;

function Routes({ route }: { route: string[] }) {
  const [section, name] = route;
  if (section === "topics") return name ? <Topic name={name} /> : <Topics />;
  if (section === "groups") return name ? <Group name={name} /> : <Groups />;
  if (section === "dlq") return name ? <Dlq topic={name} /> : <DlqList />;
  return <Overview />;
}

function SignIn(props: { error: ApiError | null; onToken(token: string): void }) {
  const [token, setToken] = useState("");
  return (
    <main id="main" class="signin">
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          props.onToken(token.trim());
        }}
        aria-labelledby="signin-title"
      >
        <h1 id="signin-title">Promethean console</h1>
        <p>Sign in with the broker token, or a JWT whose scopes grant admin:* (or read:* to look only).</p>
        <label>
          Token
          <input name="token" type="password" required autoComplete="current-password" value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">
          Sign in
        </button>
        <ErrorNote error={props.error} />
      </form>
    </main>
  );
}

function App() {
  const [session, setSession] = useState<SignedIn | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [checking, setChecking] = useState(true);
  const route = useHashRoute();

  const signIn = async (token: string | null) => {
    saveToken(token);
    try {
      setSession(await get<SignedIn>("/console/api/whoami"));
      setError(null);
    } catch (err) {
      saveToken(null);
      setSession(null);
      // An open broker answers without a token; a first visit is not an error.
      setError(token === null ? null : (err as ApiError));
    } finally {
      setChecking(false);
    }
  };
  useEffect(() => {
    void signIn(savedToken());
  }, []);
  useEffect(() => {
    document.getElementById("main")?.focus();
  }, [route.join("/")]);

  if (checking) return <p class="muted pad">Connecting…</p>;
  if (!session) return <SignIn error={error} onToken={(t) => void signIn(t)} />;
  const current = route[0] ?? "";
  return (
    <Session.Provider value={session}>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Promethean
        </a>
        <nav aria-label="Sections">
          <ul>
            {NAV.map(([path, label]) => (
              <li key={path}>
                <a href={`#/${path}`} aria-current={current === path ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span data-testid="role" class={`role role-${session.role}`}>
            {session.role === "admin" ? "admin" : "read-only"}
          </span>
          <span class="muted subject">{session.subject}</span>
          <button
            type="button"
            onClick={() => {
              saveToken(null);
              setSession(null);
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Routes route={route} />
      </main>
    </Session.Provider>
  );
}

render(<App />, document.getElementById("app")!);
