// The article's app: the server signs a JWT at login and the browser keeps it.
import express from 'express';
import jwt from 'jsonwebtoken';
import { checkPassword } from './users.js';

const secret = process.env.JWT_SECRET ?? 'settings.secret';
const app = express();
app.use(express.json());
app.use(express.static(new URL('./web/dist', import.meta.url).pathname));

app.post('/api/auth/login', async (req, res) => {
  const user = await checkPassword(req.body.username, req.body.password);
  if (!user) return res.status(401).json({ success: false });
  const token = jwt.sign({ username: user.username, id: user.id }, secret, { expiresIn: '15m' });
  res.json({ success: true, token: `JWT ${token}`, user });
});

app.get('/api/me', (req, res) => {
  try {
    const token = (req.headers.authorization ?? '').replace(/^JWT /, '');
    const claims = jwt.verify(token, secret) as { username: string; id: string };
    res.json({ user: { id: claims.id, username: claims.username } });
  } catch {
    res.status(401).json({ success: false });
  }
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
